"""mqtt-broker, mqtt in and mqtt out nodes against a real mosquitto, with a paho peer on the other side."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from typing import Any

import pytest

from flowengine.config import MqttSettings
from flowengine.errors import FlowConfigError
from flowengine.mqtt import Backoff, MqttLink
from flowengine.mqtt.testing import MqttPeer
from flowengine.testing import FlowHarness, Mosquitto, wait_until
from nodes.core.mqtt_broker import MqttBrokerConfig

pytestmark = pytest.mark.broker


@pytest.fixture
def peer(broker: Mosquitto) -> Iterator[MqttPeer]:
    p = MqttPeer(broker.port)
    yield p
    p.close()


def broker_node(port: int, **props: Any) -> dict[str, Any]:
    return {"id": "b1", "type": "mqtt-broker", "broker": "127.0.0.1", "port": str(port), "clientid": "", **props}


def node(node_id: str, node_type: str, wires: list[list[str]] | None = None, **props: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "z": "t1", "wires": wires or [], **props}


def connected(harness: FlowHarness, node_id: str) -> bool:
    return harness.node(node_id).last_status.get("text") == "connected"


def publish_until_received(peer: MqttPeer, harness: FlowHarness, topic: str, payload: bytes, sink: str) -> Any:
    """The SUBSCRIBE of a freshly started node races the peer: publish until the message arrives."""
    for _ in range(50):
        peer.publish(topic, payload)
        try:
            return harness.one(sink, timeout=0.1)
        except AssertionError:
            continue
    raise AssertionError(f"nothing reached {sink} for {topic}")


def next_with_topic(harness: FlowHarness, sink: str, topic: str) -> Any:
    """The next message at ``sink`` with ``topic``, skipping late copies of earlier probes."""
    for _ in range(10):
        msg = harness.one(sink)
        if msg["topic"] == topic:
            return msg
    raise AssertionError(f"no message on {topic} at {sink}")


def relay_until_received(peer: MqttPeer, topic: str, payload: bytes) -> tuple[str, bytes, int, bool]:
    """Publish until the flow's answer reaches the peer (the flow's SUBSCRIBE races the first publish)."""
    for _ in range(50):
        peer.publish(topic, payload)
        try:
            return peer.messages.get(timeout=0.1)
        except queue.Empty:
            continue
    raise AssertionError(f"nothing came back for {topic}")


def test_mqtt_in_emits_topic_payload_qos_retain(broker: Mosquitto, peer: MqttPeer, harness: FlowHarness) -> None:
    harness.deploy(
        [
            broker_node(broker.port),
            node("in1", "mqtt in", [["h1"]], topic="dev/+/data", qos="1", datatype="auto-detect", broker="b1"),
            node("h1", "helper"),
        ]
    )
    wait_until(lambda: connected(harness, "in1"), what="mqtt in shows connected")
    first = publish_until_received(peer, harness, "dev/7/data", b'{"speed": 12.5}', "h1")
    assert (first["topic"], first["payload"], first["qos"], first["retain"]) == (
        "dev/7/data",
        {"speed": 12.5},
        1,
        False,
    )
    peer.publish("dev/8/data", b"plain text", qos=0)
    second = next_with_topic(harness, "h1", "dev/8/data")
    assert (second["payload"], second["qos"]) == ("plain text", 0)


def test_mqtt_in_json_payload_and_retained_flag(broker: Mosquitto, peer: MqttPeer, harness: FlowHarness) -> None:
    peer.publish("ret/x", b'{"speed": 12.5}', qos=1, retain=True)
    harness.deploy(
        [
            broker_node(broker.port),
            node("in1", "mqtt in", [["h1"]], topic="ret/#", qos="1", datatype="json", broker="b1"),
            node("h1", "helper"),
        ]
    )
    msg = harness.one("h1")
    peer.publish("ret/x", b"", qos=1, retain=True)  # clear the retained message
    assert (msg["topic"], msg["payload"], msg["qos"], msg["retain"]) == ("ret/x", {"speed": 12.5}, 1, True)


def test_mqtt_in_bad_json_goes_to_catch(broker: Mosquitto, peer: MqttPeer, harness: FlowHarness) -> None:
    harness.deploy(
        [
            broker_node(broker.port),
            node("in1", "mqtt in", [["h1"]], topic="bad/json", qos="1", datatype="json", broker="b1"),
            node("h1", "helper"),
            node("c1", "catch", [["h2"]], scope=None),
            node("h2", "helper"),
        ]
    )
    caught = publish_until_received(peer, harness, "bad/json", b"{not json", "h2")
    assert "not valid JSON" in caught["error"]["message"]
    assert caught["payload"] == b"{not json" and caught["topic"] == "bad/json"
    assert harness.nothing("h1")


def test_mqtt_out_publishes_payload_topic_qos_retain(broker: Mosquitto, peer: MqttPeer, harness: FlowHarness) -> None:
    peer.subscribe("out/#", qos=1)
    harness.deploy([broker_node(broker.port), node("out1", "mqtt out", topic="", qos="", retain="", broker="b1")])
    wait_until(lambda: connected(harness, "out1"), what="mqtt out shows connected")
    harness.inject("out1", payload={"a": [1, 2]}, topic="out/json", qos=1)
    harness.inject("out1", payload=b"\x00\x01", topic="out/raw", qos="0")
    harness.inject("out1", payload=42, topic="out/num")
    received = {t: (p, q) for t, p, q, _ in peer.take(3)}
    assert received == {"out/json": (b'{"a":[1,2]}', 1), "out/raw": (b"\x00\x01", 0), "out/num": (b"42", 0)}


def test_mqtt_out_node_topic_and_retain_win(broker: Mosquitto, peer: MqttPeer, harness: FlowHarness) -> None:
    harness.deploy(
        [broker_node(broker.port), node("out1", "mqtt out", topic="fixed/topic", qos="1", retain="true", broker="b1")]
    )
    wait_until(lambda: connected(harness, "out1"))
    harness.inject("out1", payload="kept", topic="ignored/topic", retain=False)
    wait_until(lambda: _retained(broker.port, "fixed/topic") == b"kept", what="retained message at the broker")
    peer.publish("fixed/topic", b"", retain=True)


def _retained(port: int, topic: str) -> bytes | None:
    late = MqttPeer(port)
    try:
        late.subscribe(topic, qos=1)
        return late.take(1, timeout=0.5)[0][1]
    except AssertionError:
        return None
    finally:
        late.close()


def test_mqtt_out_without_topic_goes_to_catch(broker: Mosquitto, harness: FlowHarness) -> None:
    harness.deploy(
        [
            broker_node(broker.port),
            node("out1", "mqtt out", broker="b1"),
            node("c1", "catch", [["h1"]], scope=["out1"]),
            node("h1", "helper"),
        ]
    )
    harness.inject("out1", payload="x")
    assert "topic" in harness.one("h1")["error"]["message"]


def test_nodes_without_broker_use_the_device_link(broker: Mosquitto, peer: MqttPeer, harness: FlowHarness) -> None:
    link = MqttLink(MqttSettings(port=broker.port, client_id="device-link"), backoff=Backoff(0.05, 0.5))
    harness.runtime.services.link = link
    harness.call(link.start())
    try:
        peer.subscribe("device/out", qos=1)
        harness.deploy(
            [
                node("in1", "mqtt in", [["out1"]], topic="device/in", qos="1"),
                node("out1", "mqtt out", topic="device/out"),
            ]
        )
        assert relay_until_received(peer, "device/in", b'{"x": 1}') == ("device/out", b'{"x": 1}', 1, False)
        assert connected(harness, "in1") and connected(harness, "out1")
    finally:
        harness.call(harness.runtime.stop())
        harness.call(link.close())
    assert link.stats.published >= 1


def test_broker_node_settings_from_node_red_properties() -> None:
    config = MqttBrokerConfig.model_validate(
        {
            "broker": "mqtts://broker.example:8884",
            "port": "",
            "clientid": "dev-1",
            "keepalive": "30",
            "cleansession": False,
        }
        | {"protocolVersion": "4", "credentials": {"user": "u", "password": "p"}}
    )
    settings = config.settings()
    assert (settings.host, settings.port, settings.client_id, settings.keepalive) == (
        "broker.example",
        8884,
        "dev-1",
        30,
    )
    assert (settings.username, settings.password, settings.clean_session) == ("u", "p", False)
    assert config.endpoint()[2] is True
    assert MqttBrokerConfig.model_validate({"broker": "h", "port": ""}).settings().port == 1883


@pytest.mark.parametrize(
    ("props", "field", "words"),
    [
        ({"protocolVersion": "5"}, "protocolVersion", "MQTT 5 is not supported"),
        ({"port": "99999"}, None, "port"),
        ({"clientid": "a/b"}, "clientid", "must not contain"),
        ({"broker": "ws://h"}, None, "not supported"),
    ],
)
def test_broker_node_rejects_bad_properties(
    harness: FlowHarness, props: dict[str, Any], field: str | None, words: str
) -> None:
    with pytest.raises(FlowConfigError) as info:
        harness.deploy([broker_node(1883) | props])
    problem = info.value.problems[0]
    assert problem.node_id == "b1" and words in str(problem)
    if field:
        assert problem.field == field


def test_mqtt_in_rejects_a_bad_filter(harness: FlowHarness) -> None:
    with pytest.raises(FlowConfigError, match="topic"):
        harness.deploy([node("in1", "mqtt in", topic="a/#/b")])


def test_payload_is_json_for_objects(broker: Mosquitto, peer: MqttPeer, harness: FlowHarness) -> None:
    peer.subscribe("obj/#", qos=1)
    harness.deploy([broker_node(broker.port), node("out1", "mqtt out", topic="obj/x", broker="b1")])
    harness.inject("out1", payload={"n": None, "ok": True})
    assert json.loads(peer.take(1)[0][1]) == {"n": None, "ok": True}
