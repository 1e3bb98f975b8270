"""MqttLink against a real mosquitto: pub/sub, acks, reconnects, the offline queue, TCP_NODELAY."""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowengine.errors import LinkError
from flowengine.mqtt import MqttLink
from flowengine.mqtt.testing import LoopThread, MqttPeer
from flowengine.testing import Mosquitto, free_port, wait_until

pytestmark = pytest.mark.broker

_ids = itertools.count()


@pytest.fixture
def make_link(links: Any) -> Any:
    """Links with a 10,000-message queue by default."""

    def make(port: int, start: bool = True, queue_limit: int = 10_000, **settings: Any) -> MqttLink:
        return links(backoff=(0.05, 0.5), start=start, options={"queue_limit": queue_limit}, port=port, **settings)

    return make


@pytest.fixture
def peer(broker: Mosquitto) -> Iterator[MqttPeer]:
    p = MqttPeer(broker.port)
    yield p
    p.close()


def collector(loop: LoopThread) -> tuple[list[tuple[str, bytes, int, bool]], Any]:
    """A subscriber callback that records messages and checks it runs on the loop thread."""
    got: list[tuple[str, bytes, int, bool]] = []

    def callback(topic: str, payload: bytes) -> None:
        assert threading.current_thread() is loop.thread
        got.append((topic, bytes(payload), payload.qos, payload.retain))  # type: ignore[attr-defined]

    return got, callback


async def published(futures: list[asyncio.Future[None]]) -> list[Any]:
    return await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 10)


def test_subscribe_receives_on_the_loop_thread(broker: Mosquitto, peer: MqttPeer, loop: LoopThread, make_link) -> None:
    link = make_link(broker.port)
    got, callback = collector(loop)
    root = f"sensors-{uuid.uuid4().hex[:8]}"  # the broker keeps the retained message for later tests
    loop.run(link.subscribe, f"{root}/+/temp", 1, callback)
    wait_until(lambda: link.connected, what="link connected")
    peer.publish(f"{root}/a/temp", b"21.5", qos=1)
    peer.publish(f"{root}/a/humidity", b"40", qos=1)
    peer.publish(f"{root}/b/temp", b"19", qos=0, retain=True)
    wait_until(lambda: len(got) >= 2, what="two messages")
    assert got[:2] == [(f"{root}/a/temp", b"21.5", 1, False), (f"{root}/b/temp", b"19", 0, False)]


def test_publish_futures_resolve_on_ack(broker: Mosquitto, peer: MqttPeer, loop: LoopThread, make_link) -> None:
    peer.subscribe("out/#", qos=1)
    link = make_link(broker.port, qos=1)

    async def publish_all() -> list[Any]:
        futures = [link.publish("out/q1", f"m{i}") for i in range(50)]
        futures.append(link.publish("out/q0", b"zero", qos=0))
        return await published(futures)

    assert loop.call(publish_all()) == [None] * 51
    received = peer.take(51)
    assert [p for t, p, _, _ in received if t == "out/q1"] == [f"m{i}".encode() for i in range(50)]
    assert ("out/q0", b"zero", 0, False) in received
    assert link.stats.published == 51


def test_shared_filter_and_unsubscribe(broker: Mosquitto, peer: MqttPeer, loop: LoopThread, make_link) -> None:
    link = make_link(broker.port)
    first, first_cb = collector(loop)
    second, second_cb = collector(loop)
    sub1 = loop.run(link.subscribe, "shared/#", 0, first_cb)
    loop.run(link.subscribe, "shared/#", 1, second_cb)
    wait_until(lambda: link.connected)
    peer.publish("shared/x", b"1")
    wait_until(lambda: first and second, what="both subscribers")
    loop.run(link.unsubscribe, sub1)
    peer.publish("shared/x", b"2")
    wait_until(lambda: len(second) == 2, what="second message at the remaining subscriber")
    assert [p for _, p, _, _ in first] == [b"1"]
    assert [p for _, p, _, _ in second] == [b"1", b"2"]


def test_bad_topics_are_refused_before_sending(broker: Mosquitto, loop: LoopThread, make_link) -> None:
    link = make_link(broker.port)
    with pytest.raises(LinkError, match="must not contain"):
        loop.run(link.publish, "a/+/b", b"x")
    with pytest.raises(LinkError, match="'#' must be a whole level"):
        loop.run(link.subscribe, "a/#/b", 0, lambda t, p: None)
    with pytest.raises(LinkError, match="qos"):
        loop.run(link.publish, "a/b", b"x", 3)


def test_resubscribes_after_broker_restart(own_broker: Mosquitto, loop: LoopThread, make_link) -> None:
    link = make_link(own_broker.port, clean_session=True)
    states: list[tuple[bool, str]] = []
    link.add_state_listener(lambda up, why: states.append((up, why)))
    got, callback = collector(loop)
    loop.run(link.subscribe, "cmd/#", 1, callback)
    wait_until(lambda: link.connected)
    own_broker.restart()
    wait_until(lambda: states and states[-1][0] and len(states) >= 2, timeout=10, what="reconnect")
    assert states[0][0] is False and "lost" in states[0][1]
    peer = MqttPeer(own_broker.port)
    try:
        wait_until(lambda: _delivered(peer, "cmd/go", got), timeout=5, what="message after restart")
    finally:
        peer.close()
    assert link.stats.reconnects == 1


def _delivered(peer: MqttPeer, topic: str, got: list[Any]) -> bool:
    """Publish until the link's subscription is back (the SUBSCRIBE races the peer)."""
    peer.publish(topic, b"go", qos=1)
    return any(t == topic for t, *_ in got)


def test_queues_while_down_and_flushes_in_order(own_broker: Mosquitto, loop: LoopThread, make_link) -> None:
    listener = MqttPeer(own_broker.port, "queue-listener", clean_session=False)
    listener.subscribe("queued/#", qos=1)
    link = make_link(own_broker.port, qos=1)
    own_broker.stop()
    wait_until(lambda: not link.connected, what="link sees the broker go")
    futures = [loop.run(link.publish, "queued/n", str(i).encode()) for i in range(40)]
    assert link.stats.queued == 40
    assert not any(f.done() for f in futures)
    own_broker.start()
    assert loop.call(published(futures)) == [None] * 40
    listener.wait_connected()
    payloads = [int(p) for _, p, _, _ in listener.take(40, timeout=10)]
    listener.close()
    assert payloads == list(range(40))
    assert link.stats.queued == 0


def test_full_queue_drops_oldest_and_counts(loop: LoopThread, make_link, tmp_path: Path, caplog) -> None:
    port = free_port()  # nothing listens yet: start() returns anyway
    caplog.set_level(logging.WARNING, "flowengine.mqtt")
    link = make_link(port, queue_limit=5)
    assert not link.connected
    futures = [loop.run(link.publish, "q/n", str(i).encode()) for i in range(8)]
    stats = link.stats
    assert (stats.queued, stats.dropped) == (5, 3)
    assert all(isinstance(f.exception(), LinkError) for f in futures[:3])
    assert "dropped 1 oldest" in caplog.text
    assert "Connection refused" in caplog.text and "retrying in" in caplog.text
    with Mosquitto(tmp_path, port=port):
        assert loop.call(published(futures[3:])) == [None] * 5
    assert link.stats.published == 5


def test_tcp_nodelay_is_set(broker: Mosquitto, make_link) -> None:
    link = make_link(broker.port)
    wait_until(lambda: link.connected)
    assert link.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


class _RecordingSocket:
    """The link's socket, recording the options set on it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.options: list[tuple[int, int, int]] = []

    def setsockopt(self, level: int, option: int, value: int) -> None:
        self.options.append((level, option, value))
        self.sock.setsockopt(level, option, value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


@pytest.mark.skipif(not hasattr(socket, "TCP_QUICKACK"), reason="Linux only")
def test_connack_and_suback_are_acknowledged_at_once(broker: Mosquitto, loop: LoopThread, make_link) -> None:
    """A broker with Nagle on holds the first message until its SUBACK is acknowledged."""
    link = make_link(broker.port, start=False)
    client = link._client
    recorded: list[_RecordingSocket] = []

    def recording_socket() -> Any:
        if client._sock is None:
            return None
        if not recorded or recorded[-1].sock is not client._sock:
            recorded.append(_RecordingSocket(client._sock))
        return recorded[-1]

    client.socket = recording_socket

    def quickacks() -> int:
        wanted = (socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        return sum(option == wanted for sock in recorded for option in sock.options)

    _, callback = collector(loop)
    loop.run(link.subscribe, "quick/ack", 1, callback)
    loop.call(link.start())
    wait_until(lambda: quickacks() >= 2 and not link._sub_requests)  # CONNACK, SUBACK
    loop.run(link.subscribe, "quick/ack2", 1, callback)
    wait_until(lambda: quickacks() >= 3 and not link._sub_requests)  # the new filter's SUBACK
    assert quickacks() == 3


def test_close_is_idempotent_and_fails_what_is_left(loop: LoopThread, make_link) -> None:
    link = make_link(free_port())
    future = loop.run(link.publish, "q/n", b"never")
    loop.call(link.close())
    loop.call(link.close())
    assert isinstance(future.exception(), LinkError)
    assert not link.connected
