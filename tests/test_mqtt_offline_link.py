"""MqttLink with the Offline Data Store against a real mosquitto: info messages on disk while the broker is away."""

from __future__ import annotations

import itertools
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowengine.config import MqttSettings
from flowengine.errors import LinkError
from flowengine.mqtt import MqttLink
from flowengine.mqtt.offline_store import OfflineStore
from flowengine.mqtt.testing import LoopThread, MqttPeer
from flowengine.testing import Mosquitto, wait_until

pytestmark = pytest.mark.broker

_ids = itertools.count()
ROOT = "v1/dev1"


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "offline.db"


@pytest.fixture
def make_link(links: Any, store_path: Path) -> Any:
    """Links with an offline store in ``store_path``."""

    def make(port: int, max_messages: int = 1000, max_bytes: int = 1 << 20, **settings: Any) -> MqttLink:
        store = OfflineStore(store_path, max_messages, max_bytes)
        return links(backoff=(0.05, 0.3), options={"offline_store": store}, port=port, **settings)

    return make


@pytest.fixture
def platform(own_broker: Mosquitto) -> Iterator[MqttPeer]:
    """The platform: a persistent session subscribed to infos and responses, so nothing is missed across restarts."""
    peer = MqttPeer(own_broker.port, f"platform-{next(_ids)}", clean_session=False)
    peer.subscribe(f"{ROOT}/#", qos=1)
    yield peer
    peer.close()


def publish_all(loop: LoopThread, link: MqttLink, messages: list[tuple[str, bytes]]) -> list[Any]:
    """Publish reports as the agent does: durable (they wait on disk while offline)."""
    return [loop.run(lambda t=topic, p=payload: link.publish(t, p, durable=True)) for topic, payload in messages]


def infos(group: str, count: int, start: int = 0) -> list[tuple[str, bytes]]:
    return [(f"{ROOT}/{group}/info", f"{group}-{i}".encode()) for i in range(start, start + count)]


def received(peer: MqttPeer, count: int, timeout: float = 10.0) -> list[tuple[str, bytes]]:
    return [(topic, payload) for topic, payload, _, _ in peer.take(count, timeout=timeout)]


def first_seen(messages: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Messages in order of first arrival (QoS 1 is at least once)."""
    return list(dict.fromkeys(messages))


def test_infos_go_to_disk_while_down_and_arrive_in_order(
    own_broker: Mosquitto, platform: MqttPeer, loop: LoopThread, make_link
) -> None:
    link = make_link(own_broker.port)
    wait_until(lambda: link.connected, what="link connected")
    own_broker.stop()
    wait_until(lambda: not link.connected, what="link sees the broker go")
    stored = publish_all(loop, link, infos("gnss", 20))
    response = loop.run(link.publish, f"{ROOT}/gnss/set/resp", b"ok")
    wait_until(lambda: all(f.done() for f in stored), what="infos on disk")
    assert [f.exception() for f in stored] == [None] * 20  # settled: the store owns them now
    stats = link.offline_stats()
    assert (stats.mode, stats.waiting, stats.dropped) == ("store", 20, 0)
    assert link.stats.queued == 1 and not response.done()  # responses wait in memory, never on disk
    own_broker.start()
    platform.wait_connected()
    got = received(platform, 21)
    assert sorted(got) == sorted([*infos("gnss", 20), (f"{ROOT}/gnss/set/resp", b"ok")])
    assert [m for m in got if m[0].endswith("/info")] == infos("gnss", 20)
    wait_until(lambda: link.offline_stats().waiting == 0, what="store emptied by acks")
    assert link.offline_stats().replayed == 20


def test_live_infos_queue_behind_the_backlog_while_responses_pass(
    own_broker: Mosquitto, platform: MqttPeer, loop: LoopThread, make_link, store_path: Path
) -> None:
    with OfflineStore(store_path) as earlier:  # left by an earlier run
        earlier.put_many([(topic, payload, 1, False) for topic, payload in infos("obd", 100)])
    link = make_link(own_broker.port)
    wait_until(lambda: link.connected, what="link connected")
    live = publish_all(loop, link, infos("obd", 3, start=100))
    loop.run(link.publish, f"{ROOT}/obd/refresh/resp", b"answer")
    got = received(platform, 1)
    while got[-1][0].endswith("/info"):
        got += received(platform, 1)
    assert link.offline_stats().waiting > 0, "the response had to wait for the whole backlog"
    got += received(platform, 103 - (len(got) - 1))
    assert [m for m in first_seen(got) if m[0].endswith("/info")] == infos("obd", 103)
    wait_until(lambda: all(f.done() for f in live))


def test_store_survives_a_restart_of_the_link(
    own_broker: Mosquitto, platform: MqttPeer, loop: LoopThread, make_link
) -> None:
    first = make_link(own_broker.port)
    wait_until(lambda: first.connected, what="link connected")
    own_broker.stop()
    wait_until(lambda: not first.connected, what="link sees the broker go")
    publish_all(loop, first, infos("io", 5))
    loop.call(first.close())
    second = make_link(own_broker.port)
    publish_all(loop, second, infos("io", 5, start=5))
    wait_until(lambda: second.offline_stats().waiting == 10, what="both runs' infos on disk")
    own_broker.start()
    platform.wait_connected()
    assert received(platform, 10) == infos("io", 10)
    wait_until(lambda: second.offline_stats().waiting == 0, what="store emptied")


def test_unacknowledged_infos_are_kept_when_the_link_closes(
    own_broker: Mosquitto, platform: MqttPeer, loop: LoopThread, make_link, store_path: Path
) -> None:
    link = make_link(own_broker.port)
    wait_until(lambda: link.connected, what="link connected")
    own_broker.proc.send_signal(signal.SIGSTOP)  # the broker stops answering: publishes wait for PUBACK
    try:
        futures = publish_all(loop, link, infos("summary", 4))
        loop.call(link.close(timeout=0.2))
        assert all(isinstance(f.exception(), LinkError) for f in futures)
        with OfflineStore(store_path) as kept:
            assert [(m.topic, m.payload) for m in kept.peek(10)] == infos("summary", 4)
    finally:
        own_broker.proc.send_signal(signal.SIGCONT)
    again = make_link(own_broker.port)
    wait_until(lambda: again.offline_stats().waiting == 0, what="kept infos replayed and acknowledged")
    got = first_seen(received(platform, 4))
    while len(got) < 4:
        got = first_seen(got + received(platform, 1))
    assert got == infos("summary", 4)


def test_bounds_drop_the_oldest_and_count(own_broker: Mosquitto, platform: MqttPeer, loop: LoopThread, make_link):
    link = make_link(own_broker.port, max_messages=5)
    wait_until(lambda: link.connected, what="link connected")
    own_broker.stop()
    wait_until(lambda: not link.connected, what="link sees the broker go")
    futures = publish_all(loop, link, infos("motion", 8))
    wait_until(lambda: all(f.done() for f in futures), what="infos on disk")
    stats = link.offline_stats()
    assert (stats.waiting, stats.dropped) == (5, 3)
    own_broker.start()
    platform.wait_connected()
    assert received(platform, 5) == infos("motion", 5, start=3)


def test_an_info_over_the_byte_bound_fails_alone(own_broker: Mosquitto, loop: LoopThread, make_link) -> None:
    link = make_link(own_broker.port, max_bytes=1024)
    own_broker.stop()
    wait_until(lambda: not link.connected, what="link sees the broker go")
    small, big, after = publish_all(
        loop, link, [(f"{ROOT}/a/info", b"1"), (f"{ROOT}/a/info", b"x" * 2000), (f"{ROOT}/a/info", b"2")]
    )
    with pytest.raises(LinkError, match="offline_max_bytes"):
        loop.call(_settled(big))
    loop.call(_settled(small))
    loop.call(_settled(after))
    assert (link.offline_stats().waiting, link.offline_stats().lost) == (2, 1)


def test_memory_mode_reports_its_queue(own_broker: Mosquitto, loop: LoopThread) -> None:
    link = MqttLink(MqttSettings(port=own_broker.port, client_id="memory-link"), queue_limit=2)
    own_broker.stop()
    loop.call(link.start())
    publish_all(loop, link, infos("io", 3))
    stats = link.offline_stats()
    assert (stats.mode, stats.waiting, stats.dropped) == ("memory", 2, 1)
    loop.call(link.close())


async def _settled(future: Any) -> None:
    await future
