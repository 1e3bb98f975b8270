"""mqtt-broker birth, close and will messages (device presence) against a real mosquitto."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from flowengine.errors import FlowConfigError
from flowengine.mqtt.testing import MqttPeer
from flowengine.testing import FlowHarness, Mosquitto, wait_until

pytestmark = pytest.mark.broker

PRESENCE = {
    "birthTopic": "fleet/dev1/status",
    "birthPayload": "online",
    "birthQos": "1",
    "birthRetain": "true",
    "birthMsg": {},
    "closeTopic": "fleet/dev1/status",
    "closePayload": "offline",
    "closeQos": "1",
    "closeRetain": "true",
    "closeMsg": {},
    "willTopic": "fleet/dev1/status",
    "willPayload": "lost",
    "willQos": "1",
    "willRetain": "true",
    "willMsg": {},
}


@pytest.fixture
def peer(broker: Mosquitto) -> Iterator[MqttPeer]:
    p = MqttPeer(broker.port)
    p.subscribe("fleet/#")
    yield p
    p.publish("fleet/dev1/status", b"", retain=True)  # leave no retained status for the next test
    p.close()


def broker_node(port: int, **props: Any) -> dict[str, Any]:
    return {"id": "b1", "type": "mqtt-broker", "broker": "127.0.0.1", "port": str(port), "clientid": "", **props}


def statuses(peer: MqttPeer, count: int) -> list[tuple[bytes, int, bool]]:
    return [(payload, qos, retain) for _, payload, qos, retain in peer.take(count)]


def test_birth_on_connect_and_close_on_clean_shutdown(broker: Mosquitto, peer: MqttPeer) -> None:
    harness = FlowHarness()
    try:
        harness.deploy([broker_node(broker.port, **PRESENCE)])
        assert statuses(peer, 1) == [(b"online", 1, False)]  # live delivery: the retain flag is not set
    finally:
        harness.close()
    assert statuses(peer, 1) == [(b"offline", 1, False)]
    late = MqttPeer(broker.port)
    try:
        late.subscribe("fleet/#")
        assert [(p, r) for _, p, _, r in late.take(1)] == [(b"offline", True)]  # a dashboard joining later
    finally:
        late.close()


def test_will_when_the_connection_is_lost_then_birth_again(broker: Mosquitto, peer: MqttPeer) -> None:
    harness = FlowHarness()
    try:
        harness.deploy([broker_node(broker.port, **PRESENCE)])
        assert statuses(peer, 1) == [(b"online", 1, False)]
        link = harness.node("b1").link
        sock = wait_until(lambda: link.socket, what="the broker node's socket")
        harness.loop.call_soon_threadsafe(sock.shutdown, socket.SHUT_RDWR)  # no DISCONNECT: the broker sends the will
        assert statuses(peer, 2) == [(b"lost", 1, False), (b"online", 1, False)]
    finally:
        harness.close()


def test_no_presence_topics_publish_nothing(broker: Mosquitto, peer: MqttPeer, harness: FlowHarness) -> None:
    harness.deploy([broker_node(broker.port, birthTopic="", closeTopic="", willTopic="")])
    wait_until(lambda: harness.node("b1").link.connected, what="connected")
    assert peer.nothing(within=0.3)


@pytest.mark.parametrize(
    ("props", "field"),
    [({"birthTopic": "a/+/b"}, "birthTopic"), ({"willQos": "3"}, "willQos"), ({"closeTopic": "x/#"}, "closeTopic")],
)
def test_bad_presence_settings_are_config_errors(harness: FlowHarness, props: dict[str, str], field: str) -> None:
    with pytest.raises(FlowConfigError) as info:
        harness.deploy([broker_node(1883, **props)])
    assert (info.value.problems[0].node_id, info.value.problems[0].field) == ("b1", field)
