"""Fault isolation: dead driver threads come back, failing or slow user nodes never stall the request path.

User flows are loaded by the agent from a ``--flows`` directory next to the
shipped default flow, exactly as on a device.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from agent_support import TEST_TYPES, Platform, RunningAgent, device, has_values

import flowengine.registry as registry
from flowengine.plugins import node_type_table
from flowengine.testing import FlowHarness, Mosquitto, wait_until
from nodes.sources.base import SourceNode

# -- driver supervision (nodes/sources/base.py) ---------------------------------------------------


@pytest.mark.broker
def test_a_gnss_driver_whose_port_and_thread_die_is_restarted_and_values_return(
    agent: RunningAgent, platform: Platform
) -> None:
    wait_until(has_values(agent, "gnss"), 10)
    node = agent.runtime.nodes["source-gnss"]
    receiver = node.receiver
    receiver.stop()  # the receiver's writer thread ends and its pty closes under the reader thread
    wait_until(lambda: node.failures >= 1, 10, what="the failure noticed")
    wait_until(lambda: node.healthy and node.receiver is not receiver, 15, what="a new backend publishing")
    result = platform.request("gnss/refresh", when_free=True)["result"]
    assert result["gnss.latitude"] is not None and result["gnss.ts"] >= 0


class Quitter(SourceNode):
    """A backend that returns at once instead of running: it must not spin the event loop."""

    prefixes = ("quit",)
    keys = ("quit.x",)
    runs = 0

    async def run_backend(self) -> None:
        type(self).runs += 1


def test_a_backend_that_returns_is_restarted_with_back_off_and_the_loop_stays_free(harness: FlowHarness) -> None:
    harness.registry.register("quitter", Quitter)
    harness.deploy([{"id": "q", "type": "quitter", "backend": "simulated", "wires": [["sink"]]}, sink()])
    assert harness.one("sink")["payload"] == {"quit.x": None}  # values marked invalid once
    wait_until(lambda: Quitter.runs >= 2, 5, what="a second run after the back-off")
    assert harness.call(asyncio.sleep(0, result="free")) == "free"
    assert harness.node("q").failures >= 2 and Quitter.runs < 10  # type: ignore[attr-defined]


def sink() -> dict[str, Any]:
    return {"id": "sink", "type": "helper"}


# -- user flows that fail, hang or try to escape --------------------------------------------------


def user_flow(root: str) -> list[dict[str, Any]]:
    """An app hook feeding a failing node, two sandbox escapes and a slow node; a catch node reports errors."""

    def expression(node_id: str, source: str) -> dict[str, Any]:
        return {"id": node_id, "type": "expression", "z": "user", "expression": source, "wires": [["never"]]}

    return [
        {"id": "user", "type": "tab", "label": "misbehaving user flow"},
        {
            "id": "hook",
            "type": "app hook",
            "z": "user",
            "keys": ["app.probe"],
            "wires": [["div", "open", "fmt", "slow"]],
        },
        expression("div", "payload['app.probe'] / 0"),
        expression("open", "payload['app.probe'].open('/etc/hostname')"),  # open() itself is refused at load
        expression("fmt", "'{0.__class__.__mro__}'.format(payload)"),
        {"id": "slow", "type": "test slow", "z": "user", "seconds": 2, "wires": []},
        {"id": "tick", "type": "inject", "z": "user", "repeat": 0.01, "once": True, "wires": [["slow"]]},
        {"id": "hung", "type": "test hung source", "z": "user", "backend": "simulated", "wires": []},
        {"id": "never", "type": "mqtt out", "z": "user", "topic": f"{root}/user/never", "wires": []},
        {"id": "catch", "type": "catch", "z": "user", "wires": [["describe"]]},
        {
            "id": "describe",
            "type": "expression",
            "z": "user",
            "expression": "{'node': msg['error']['source']['id'], 'error': msg['error']['message']}",
            "wires": [["report"]],
        },
        {"id": "report", "type": "mqtt out", "z": "user", "topic": f"{root}/user/errors", "wires": []},
    ]


@pytest.fixture
def user_agent(broker: Mosquitto, tmp_path: Path, client_id: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    table = {**node_type_table(), **TEST_TYPES}
    monkeypatch.setattr(registry, "node_type_table", lambda: table)
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "user.json").write_text(json.dumps(user_flow(f"v1/{client_id}")))
    running = RunningAgent(device(broker, tmp_path / "state", client_id), [flows])
    try:
        yield running, flows
    finally:
        running.stop()


@pytest.mark.broker
def test_failing_slow_and_hung_user_nodes_are_reported_and_never_stall_requests(
    user_agent: Any, platform: Platform
) -> None:
    running, _ = user_agent
    assert platform.request("app/control", {"app.probe": 1})["result"] == {"app.probe": 1}
    reports = [platform.wait("user/errors", timeout=5) for _ in range(3)]
    errors = {r["node"]: r["error"] for r in reports}
    assert sorted(errors) == ["div", "fmt", "open"]
    assert "ZeroDivisionError" in errors["div"]
    assert "format" in errors["fmt"] and "open" in errors["open"]
    assert platform.silent("user/never", within=0.3)
    slow = running.runtime.nodes["slow"]
    wait_until(lambda: slow.pending > 50, 5, what="the slow node falling behind")
    for i in range(20):  # each answered while the slow node's queue grows and the hung driver thread waits
        assert platform.request(f"probe{i}/refresh")["error"] == "not_found"
    assert platform.request("app/refresh")["result"]["app.probe"] == 1
    assert running.runtime.nodes["div"].last_status.get("fill") == "red"
    assert slow.handled <= 2 and running.runtime.nodes["hung"].healthy


@pytest.mark.broker
def test_a_flow_file_trying_to_import_is_refused_and_the_agent_keeps_serving(
    user_agent: Any, platform: Platform, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, flows = user_agent
    marker = tmp_path / "escaped"
    escape = f"__import__('os').system('touch {marker}')"
    bad = [{"id": "escape", "type": "expression", "z": "user", "expression": escape, "wires": []}]
    (flows / "escape.json").write_text(json.dumps(bad))
    wait_until(lambda: "flows not reloaded" in caplog.text, 10, what="the reload refused")
    assert "escape" in caplog.text and "names starting with '_' are not allowed" in caplog.text
    assert not marker.exists()
    assert platform.request("app/control", {"app.probe": 0})["result"] == {"app.probe": 0}  # the good flows run on
