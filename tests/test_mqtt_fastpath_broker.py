"""The lean hot path of the link's client against a real mosquitto: acks, bursts, reconnects."""

from __future__ import annotations

import asyncio
import itertools
import socket
from typing import Any

import pytest

from flowengine.mqtt import MqttLink
from flowengine.mqtt.testing import LoopThread, MqttPeer
from flowengine.testing import Mosquitto, wait_until

pytestmark = pytest.mark.broker

_ids = itertools.count()
BURST = 10_000


@pytest.fixture
def make_link(links: Any) -> Any:
    """Connected QoS 1 links whose queue holds a whole burst."""

    def make(port: int, **settings: Any) -> MqttLink:
        link = links(options={"queue_limit": BURST}, port=port, qos=1, **settings)
        wait_until(lambda: link.connected, what="link connected")
        return link

    return make


def _recorder(got: list[bytes]) -> Any:
    return lambda topic, payload: got.append(bytes(payload))


async def _publish_all(link: MqttLink, topic: str, payloads: list[bytes]) -> list[Any]:
    futures = [link.publish(topic, p) for p in payloads]
    return await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 30)


def test_burst_round_trip_in_order_with_every_ack(broker: Mosquitto, loop: LoopThread, make_link) -> None:
    peer = MqttPeer(broker.port, max_inflight=0)
    try:
        peer.subscribe("burst/n", qos=1)
        link = make_link(broker.port)
        got: list[bytes] = []
        loop.run(link.subscribe, "burst/#", 1, _recorder(got))
        wait_until(lambda: _echoes(link, loop, got), what="own subscription active")
        payloads = [str(i).encode() for i in range(BURST)]
        assert loop.call(_publish_all(link, "burst/n", payloads), timeout=40) == [None] * BURST
        burst = lambda: [p for p in got if p != b"probe"]  # noqa: E731
        wait_until(lambda: len(burst()) >= BURST, timeout=20, what="burst back through the link")
        assert burst() == payloads  # incoming QoS 1: complete and in order
        assert [p for _, p, _, _ in peer.take(BURST, timeout=10)] == payloads  # another client agrees
        assert link.stats.published >= BURST
    finally:
        peer.close()


def _echoes(link: MqttLink, loop: LoopThread, got: list[bytes]) -> bool:
    loop.run(link.publish, "burst/probe", b"probe")
    return b"probe" in got


def test_reconnect_mid_burst_delivers_every_outgoing_message(broker: Mosquitto, loop: LoopThread, make_link) -> None:
    peer = MqttPeer(broker.port, max_inflight=0)
    try:
        peer.subscribe("cut/out", qos=1)
        link = make_link(broker.port)
        payloads = [str(i).encode() for i in range(3000)]
        in_flight, results = loop.call(_burst_with_cut(link, "cut/out", payloads), timeout=40)
        assert in_flight > 0  # the cut really came with unacknowledged publishes
        assert results == [None] * 3000
        seen: set[bytes] = set()
        while len(seen) < len(payloads):  # QoS 1 is at least once: resends may repeat a message
            seen.update(p for _, p, _, _ in peer.take(1, timeout=10))
        assert seen == set(payloads)
        assert link.stats.reconnects == 1
    finally:
        peer.close()


async def _burst_with_cut(link: MqttLink, topic: str, payloads: list[bytes]) -> tuple[int, list[Any]]:
    """Publish, cut the connection once the first third is written, publish the rest."""
    futures = [link.publish(topic, p) for p in payloads[:1000]]
    while link._client.want_write():  # the first third goes out; its acks are still on the way
        await asyncio.sleep(0)
    in_flight = len(link._client._out_messages)
    _cut(link)
    futures += [link.publish(topic, p) for p in payloads[1000:]]
    return in_flight, await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 30)


def test_reconnect_mid_burst_delivers_every_incoming_message(broker: Mosquitto, loop: LoopThread, make_link) -> None:
    link = make_link(broker.port, clean_session=False)  # the broker keeps the session and resends
    got: list[bytes] = []
    loop.run(link.subscribe, "cut/in", 1, _recorder(got))
    peer = MqttPeer(broker.port, max_inflight=0)
    try:
        wait_until(lambda: _delivered_once(peer, got), what="subscription active")
        payloads = [str(i).encode() for i in range(3000)]
        infos = [peer.client.publish("cut/in", p, 1) for p in payloads]
        wait_until(lambda: len(got) >= 1000, timeout=10, what="first part of the burst")
        at_cut = loop.run(lambda: (_cut(link), len(got))[1])
        for info in infos:
            info.wait_for_publish(10)
        wait_until(lambda: set(payloads) <= set(got), timeout=15, what="every message after the reconnect")
        assert at_cut < len(payloads) and link.stats.reconnects == 1
        first_seen = list(dict.fromkeys(p for p in got if p != b"ready"))
        assert first_seen == payloads  # in order; only repeats of unacknowledged ones in between
    finally:
        peer.close()


def _delivered_once(peer: MqttPeer, got: list[bytes]) -> bool:
    peer.publish("cut/in", b"ready", qos=1)
    return b"ready" in got


def _cut(link: MqttLink) -> None:
    """Break the TCP connection under the link (as a dead network would)."""
    link.socket.shutdown(socket.SHUT_RDWR)
