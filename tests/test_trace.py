"""``run --trace``: one line per request, answer and report, and a start-up summary of what runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from agent_support import AgentProcess, Platform

from flowengine.testing import Mosquitto, wait_until

pytestmark = pytest.mark.broker


def test_trace_and_summary_lines(broker: Mosquitto, tmp_path: Path, client_id: str) -> None:
    agent = AgentProcess(broker, client_id, tmp_path / "state", tmp_path / "agent.log", "--trace")
    platform = Platform(broker.port, f"v1/{client_id}")
    try:
        platform.wait_ready(timeout=30)
        assert "result" in platform.request("sysinfo/refresh", when_free=True)
        answer = re.compile(rf"answer v1/{client_id}/sysinfo/refresh/resp token='\w+' result in [\d.]+ ms")
        wait_until(lambda: answer.search(agent.log_text()), timeout=10, what="the traced answer")
        wait_until(lambda: f"publish v1/{client_id}/gnss/info" in agent.log_text(), timeout=20, what="a traced report")
        log = agent.log_text()
        assert f"request v1/{client_id}/sysinfo/refresh token=" in log
        assert f"as '{client_id}', QoS 1" in log and "nodes running, on simulated hardware" in log
        assert "groups: " in log and "gnss 10s" in log and "sources: " in log and "(simulated)" in log
    finally:
        platform.close()
        assert agent.stop() == 0
