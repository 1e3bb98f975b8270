"""A flow exported from Node-RED (mqtt in -> change -> switch -> mqtt out) runs unchanged against mosquitto."""

from __future__ import annotations

import json
import queue
from pathlib import Path

import pytest

from flowengine.flowfile import load_flows
from flowengine.mqtt.testing import MqttPeer
from flowengine.testing import FlowHarness, Mosquitto

pytestmark = pytest.mark.broker

RELAY_FLOW = Path(__file__).parent / "flowfiles" / "nodered_relay.json"


def wait_for_relay(relay_peer: MqttPeer) -> None:
    """Probe until the flow's SUBSCRIBE is through, then forget the probes."""
    for _ in range(100):
        relay_peer.publish("relay/in/probe", b'{"n": 0, "probe": true}')
        try:
            relay_peer.messages.get(timeout=0.1)
            break
        except queue.Empty:
            continue
    else:
        raise AssertionError("the relay flow never answered")
    while not relay_peer.nothing(within=0.2):
        pass


def test_node_red_relay_flow(broker: Mosquitto, relay_peer: MqttPeer, harness: FlowHarness) -> None:
    flows = load_flows([RELAY_FLOW], env={"MQTT_PORT": str(broker.port)})
    assert not flows.problems
    harness.deploy(flows)
    wait_for_relay(relay_peer)
    for n, text in ((1, "one"), (-1, "dropped"), (2, "two")):
        relay_peer.publish(f"relay/in/sensor{n}", json.dumps({"n": n, "text": text}).encode())
    out = relay_peer.take(2)
    assert [(t, json.loads(p), q) for t, p, q, _ in out] == [
        ("relay/out", {"n": 1, "text": "one", "relayed": True}, 1),
        ("relay/out", {"n": 2, "text": "two", "relayed": True}, 1),
    ]
    assert relay_peer.nothing(within=0.3)
