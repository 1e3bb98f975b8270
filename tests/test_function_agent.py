"""The FlexAPI agent with a user flow whose function node runs away: it keeps answering the
platform while the runaway runs, and it stops (in-process and on SIGTERM) without waiting for it."""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest
from agent_support import AgentProcess, Platform, RunningAgent, device

from flowengine.testing import Mosquitto, wait_until

pytestmark = pytest.mark.broker

#: The runaway warns, then asks for a context value (which hands the warning over), then loops.
RUNAWAY = "node.warn('running away'); global.set('runaway', 'running'); global.get('sync'); while (true) {}"


def user_flows(directory: Path) -> Path:
    """A flow directory with inject (once) -> a function node that loops for a minute."""
    directory.mkdir()
    flow = [
        {"id": "user-tab", "type": "tab", "label": "user logic"},
        {"id": "user-go", "type": "inject", "z": "user-tab", "once": True, "onceDelay": 0.1, "payload": "go",
         "payloadType": "str", "wires": [["user-runaway"]]},
        {"id": "user-runaway", "type": "function", "z": "user-tab", "func": RUNAWAY, "timeout": 60, "wires": [[]]},
    ]  # fmt: skip
    (directory / "user.json").write_text(json.dumps(flow))
    return directory


def test_agent_answers_sysinfo_refresh_while_a_function_runs_away(
    broker: Mosquitto, tmp_path: Path, client_id: str
) -> None:
    agent = RunningAgent(device(broker, tmp_path / "state", client_id), [user_flows(tmp_path / "flows")])
    platform = None
    try:
        runaway = lambda: agent.runtime.nodes["user-runaway"]  # noqa: E731
        wait_until(lambda: agent.call(lambda: agent.runtime.contexts.global_.get("runaway")), 15, what="runaway")
        platform = Platform(broker.port, f"v1/{client_id}").wait_ready()
        for _ in range(3):
            answer = platform.request("sysinfo/refresh", when_free=True)
            assert "result" in answer, answer
        assert agent.call(lambda: not runaway().worker.idle), "the runaway should still be running"
    finally:
        if platform is not None:
            platform.close()
        agent.stop()  # asserts the agent's thread ended: it did not wait for the runaway's minute


def test_agent_process_stops_on_sigterm_during_a_runaway(broker: Mosquitto, tmp_path: Path, client_id: str) -> None:
    flows = user_flows(tmp_path / "flows")
    log = tmp_path / "agent.log"
    agent = AgentProcess(broker, client_id, tmp_path / "state", log, "--flows", str(flows))
    try:
        wait_until(lambda: "running away" in agent.log_text(), 20, what="the runaway running")
        workers = psutil.Process(agent.pid).children(recursive=True)
        assert workers, "the function node's worker process"
    finally:
        code = agent.stop()  # SIGTERM; killed (code -9) if it had not ended within 15 s
    assert code == 0, agent.log_text()[-2000:]
    wait_until(
        lambda: not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers), what="workers gone"
    )
