"""The FlexAPI example flows load beside the default flow and do what their notes say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowengine.agent import flow_environment
from flowengine.config import load_device_config
from flowengine.flowfile import load_flows
from flowengine.graph import build_graph
from flowengine.registry import NodeTypeRegistry
from flowengine.testing import FlowHarness

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "flows" / "examples").glob("flexapi-*.json"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_validates_with_default_flow(example: Path) -> None:
    env = flow_environment(load_device_config(None, {"mqtt.client_id": "VG1"}))
    graph = build_graph(load_flows([ROOT / "flows" / "default.json", example], env), NodeTypeRegistry())
    assert any(spec.file == str(example) for spec in graph.specs.values())


def test_flow_environment_topic_root() -> None:
    env = flow_environment(load_device_config(None, {"mqtt.client_id": "VG1", "mqtt.topic_prefix": "fleet"}))
    assert env["FLOWENGINE_TOPIC_ROOT"] == "fleet/v1/VG1"
    assert env["FLOWENGINE_CLIENT_ID"] == "VG1"


def test_overspeed_alert_raises_once(harness: FlowHarness, tmp_path: Path) -> None:
    nodes = json.loads((ROOT / "flows" / "examples" / "flexapi-overspeed-alert.json").read_text())
    for node in nodes:  # the sink stands in for the MQTT publisher
        if node["type"] == "mqtt out":
            node.update(type="helper")
    harness.deploy([{"id": "flexapi-values", "type": "flexapi values", "wires": []}, *nodes], tmp_path)
    for speed in (90, 130, 135):
        harness.inject("flexapi-values", topic="obd", payload={"obd.speed": speed})
    assert harness.one("overspeed_publish")["payload"] == {"alert": "overspeed", "state": "raised"}
    assert harness.nothing("overspeed_publish", within=0.3)


def test_app_hook_refuses_while_moving_and_reports_the_state(tmp_path: Path) -> None:
    from flexapi_support import Agent, device_config, start_agent

    nodes = json.loads((ROOT / "flows" / "examples" / "flexapi-app-hook-refuse.json").read_text())
    with start_agent(tmp_path / "state", device_config(), nodes) as h:
        agent = Agent(h)
        agent.feed({"obd.speed": 30})
        refused = agent.request("app/control", {"app.door_lock": 0})
        assert refused["error_desc"] == "app.door_lock: vehicle is moving"
        agent.wait_retry()
        assert agent.request("app/control", {"app.door_lock": 2})["error"] == "invalid_parameter"
        agent.feed({"obd.speed": 0})
        agent.wait_retry()
        assert agent.request("app/control", {"app.door_lock": 0})["result"] == {"app.door_lock": 0}
        assert agent.request("app/refresh")["result"]["app.door_lock"] == 0
