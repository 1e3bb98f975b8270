"""The agent's graph can be rewired and extended by flow files, end to end over a real mosquitto."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from agent_support import DEFAULT_FLOW, Platform, RunningAgent, device

from flowengine.testing import Mosquitto, wait_until

pytestmark = pytest.mark.broker

ROUND_RPM = '$round(payload."obd.rpm" / 100) * 100'


def spliced_default_flow(path: Path) -> Path:
    """The default flow with a conversion between the OBD source and flexapi values, as a user would edit it."""
    nodes: list[dict[str, Any]] = json.loads(DEFAULT_FLOW.read_text())
    for node in nodes:
        if node["id"] == "source-obd":
            node["wires"] = [["obd-round-rpm"]]
    rule = {"t": "set", "p": 'payload["obd.rpm"]', "pt": "msg", "to": ROUND_RPM, "tot": "jsonata"}
    convert = {"id": "obd-round-rpm", "type": "change", "z": "flexapi-agent", "name": "rpm to the nearest 100"}
    nodes.append({**convert, "rules": [rule], "wires": [["flexapi-values"]]})
    path.write_text(json.dumps(nodes))
    return path


def test_a_node_spliced_between_the_obd_source_and_the_groups_changes_what_they_report(
    broker: Mosquitto, tmp_path: Path, client_id: str
) -> None:
    flow = spliced_default_flow(tmp_path / "agent.json")
    running = RunningAgent(device(broker, tmp_path / "state", client_id), default_flow=flow)
    platform = Platform(broker.port, f"v1/{client_id}")
    try:
        platform.wait_ready()
        seen = [
            wait_until(
                lambda: platform.request("obd/refresh", when_free=True).get("result", {}).get("obd.rpm"), 10, what="rpm"
            )
            for _ in range(3)
        ]
        assert all(rpm > 0 and rpm % 100 == 0 for rpm in seen), seen
    finally:
        platform.close()
        running.stop()


def test_a_flow_adds_a_source_of_a_custom_key_that_a_custom_group_publishes(
    broker: Mosquitto, tmp_path: Path, client_id: str
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    gauge = {"id": "tank-gauge", "type": "inject", "repeat": "0.2", "once": True, "onceDelay": 0.01}
    gauge.update(payload='{"userdata.tank_level": 42.5}', payloadType="json", wires=[["flexapi-values"]])
    (flows / "tank.json").write_text(json.dumps([gauge]))
    running = RunningAgent(device(broker, tmp_path / "state", client_id), [flows])
    platform = Platform(broker.port, f"v1/{client_id}")
    try:
        platform.wait_ready()
        settings = [{"group_name": "tank", "interval": 1, "interest": {"userdata.tank_level": "level"}}]
        assert "result" in platform.request("group/set", {"settings": settings})
        info = platform.wait("tank/info", lambda payload: "level" in payload, timeout=10)
        assert info == {"level": 42.5}
    finally:
        platform.close()
        running.stop()
