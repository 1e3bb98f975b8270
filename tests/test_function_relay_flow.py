"""A Node-RED flow with a function node (mqtt in -> function -> mqtt out) runs unchanged against mosquitto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_mqtt_relay_flow import wait_for_relay

from flowengine.flowfile import load_flows
from flowengine.mqtt.testing import MqttPeer
from flowengine.testing import FlowHarness, Mosquitto

pytestmark = pytest.mark.broker

FUNCTION_RELAY_FLOW = Path(__file__).parent / "flowfiles" / "nodered_function_relay.json"


def test_node_red_function_relay_flow(broker: Mosquitto, relay_peer: MqttPeer, harness: FlowHarness) -> None:
    flows = load_flows([FUNCTION_RELAY_FLOW], env={"MQTT_PORT": str(broker.port)})
    assert not flows.problems
    harness.deploy(flows)
    wait_for_relay(relay_peer)
    for n, text in ((1, "one"), (2, "two")):
        relay_peer.publish(f"relay/in/sensor{n}", json.dumps({"n": n, "text": text}).encode())
    out = relay_peer.take(2)
    assert [(t, json.loads(p)) for t, p, _, _ in out] == [
        ("relay/out", {"n": 1, "text": "one", "doubled": 2, "label": "ONE-odd"}),
        ("relay/out", {"n": 2, "text": "two", "doubled": 4, "label": "TWO-even"}),
    ]
