"""Replayer: stored messages go out in order, paced, bounded in flight, deleted only after their ack."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

import pytest

from flowengine.errors import LinkError
from flowengine.mqtt.offline_store import OfflineStore, Replayer

TOPIC = "v1/dev1/summary/info"


class FakeLink:
    """A publish function whose acks the test controls; records what was sent and the peak in flight."""

    def __init__(self, auto_ack: bool = True, fail_first: Iterable[bytes] = (), raise_first: int = 0) -> None:
        self.auto_ack = auto_ack
        self.fail_first = set(fail_first)
        self.raise_first = raise_first
        self.sent: list[bytes] = []
        self.delivered: list[bytes] = []
        self.pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self.peak = 0

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> asyncio.Future[None]:
        if self.raise_first:
            self.raise_first -= 1
            raise LinkError("not connected")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sent.append(payload)
        self.pending.append((payload, fut))
        self.peak = max(self.peak, len(self.pending))
        if self.auto_ack:
            asyncio.get_running_loop().call_soon(self.ack_oldest)
        return fut

    def ack_oldest(self) -> None:
        payload, fut = self.pending.pop(0)
        if payload in self.fail_first:
            self.fail_first.discard(payload)
            fut.set_exception(LinkError("connection lost before PUBACK"))
        else:
            self.delivered.append(payload)
            fut.set_result(None)


class FakeTime:
    """A loop-independent clock that only moves when the replayer sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def store(tmp_path: Path):
    s = OfflineStore(tmp_path / "offline.db")
    yield s
    s.close()


def fill(store: OfflineStore, n: int) -> list[bytes]:
    payloads = [b"m%03d" % i for i in range(n)]
    store.put_many([(TOPIC, p, 1, False) for p in payloads])
    return payloads


async def until(predicate, turns: int = 10_000) -> None:
    """Let the loop run until ``predicate()`` holds (bounded by loop turns, not by time)."""
    for _ in range(turns):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


def test_replays_everything_in_order_and_empties_the_store(store: OfflineStore) -> None:
    payloads = fill(store, 250)
    link = FakeLink()
    replayer = Replayer(store, link.publish, rate=None, batch=40)
    assert asyncio.run(replayer.run()) == 250
    assert link.sent == payloads
    assert len(store) == 0


def test_topic_qos_and_retain_are_passed_through(store: OfflineStore) -> None:
    store.put("a/b", b"x", 0, True)
    calls = []

    async def publish(topic, payload, qos, retain):
        calls.append((topic, payload, qos, retain))

    asyncio.run(Replayer(store, publish, rate=None).run())
    assert calls == [("a/b", b"x", 0, True)]


def test_in_flight_never_exceeds_the_bound(store: OfflineStore) -> None:
    fill(store, 40)
    link = FakeLink(auto_ack=False)
    replayer = Replayer(store, link.publish, max_in_flight=3, rate=None)

    async def scenario() -> None:
        task = asyncio.create_task(replayer.run())
        while len(link.delivered) < 40:
            await until(lambda: len(link.pending) == min(3, 40 - len(link.delivered)))
            assert replayer.in_flight <= 3
            link.ack_oldest()
        await task

    asyncio.run(scenario())
    assert link.peak == 3
    assert len(link.delivered) == 40
    assert len(store) == 0


def test_nothing_is_deleted_before_its_ack(store: OfflineStore) -> None:
    payloads = fill(store, 10)
    link = FakeLink(auto_ack=False)
    replayer = Replayer(store, link.publish, max_in_flight=10, rate=None, ack_batch=1)

    async def scenario() -> None:
        task = asyncio.create_task(replayer.run())
        await until(lambda: len(link.pending) == 10)
        assert [m.payload for m in store.peek(100)] == payloads  # all sent, none acked, all kept
        for _ in range(4):
            link.ack_oldest()
        await until(lambda: replayer.acked == 4)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert [m.payload for m in store.peek(100)] == payloads[4:]  # acked ones deleted even on cancel


def test_failed_publish_is_retried_after_a_delay(store: OfflineStore) -> None:
    payloads = fill(store, 10)
    link = FakeLink(fail_first={b"m003"})
    fake = FakeTime()
    replayer = Replayer(store, link.publish, max_in_flight=1, rate=None, retry_delay=2.0, sleep=fake.sleep)
    asyncio.run(replayer.run())
    assert link.delivered == payloads  # in order, each once
    assert link.sent == payloads[:4] + payloads[3:]  # first attempts in order, then the sweep restarts at m003
    assert fake.sleeps == [2.0]
    assert replayer.failed == 1
    assert len(store) == 0


def test_failure_with_several_in_flight_loses_nothing(store: OfflineStore) -> None:
    payloads = fill(store, 30)
    link = FakeLink(fail_first={b"m005", b"m017"})
    fake = FakeTime()
    replayer = Replayer(store, link.publish, max_in_flight=4, rate=None, sleep=fake.sleep)
    asyncio.run(replayer.run())
    assert set(link.delivered) == set(payloads)
    assert link.sent[:6] == payloads[:6]
    assert len(store) == 0
    assert len(fake.sleeps) == 2


def test_publish_that_raises_at_once_is_retried(store: OfflineStore) -> None:
    payloads = fill(store, 3)
    link = FakeLink(raise_first=1)
    fake = FakeTime()
    asyncio.run(Replayer(store, link.publish, rate=None, sleep=fake.sleep).run())
    assert link.delivered == payloads
    assert fake.sleeps == [1.0]


def test_retry_delay_doubles_up_to_the_cap_and_resets_after_success(store: OfflineStore) -> None:
    payloads = fill(store, 2)
    link = FakeLink(raise_first=4, fail_first={b"m001"})  # four refusals, m000 acked, then m001 fails once
    fake = FakeTime()
    replayer = Replayer(store, link.publish, rate=None, retry_delay=1.0, max_retry_delay=4.0, sleep=fake.sleep)
    asyncio.run(replayer.run())
    assert fake.sleeps == [1.0, 2.0, 4.0, 4.0, 1.0]
    assert link.delivered == payloads


def test_rate_cap_spaces_sends(store: OfflineStore) -> None:
    fill(store, 21)
    link = FakeLink()
    fake = FakeTime()
    replayer = Replayer(store, link.publish, rate=10.0, clock=fake.clock, sleep=fake.sleep)
    asyncio.run(replayer.run())
    assert len(link.delivered) == 21
    assert fake.now == pytest.approx(2.0)  # 20 gaps of 0.1 s on the replayer's clock
    assert all(s == pytest.approx(0.1) for s in fake.sleeps)


def test_messages_stored_during_the_replay_are_sent_too(store: OfflineStore) -> None:
    fill(store, 3)
    link = FakeLink()

    def publish(topic, payload, qos, retain):
        if payload == b"m001":
            store.put(TOPIC, b"late", 1, False)
        return link.publish(topic, payload, qos, retain)

    asyncio.run(Replayer(store, publish, rate=None).run())
    assert link.delivered == [b"m000", b"m001", b"m002", b"late"]
    assert len(store) == 0


def test_empty_store_returns_at_once(store: OfflineStore) -> None:
    link = FakeLink()
    assert asyncio.run(Replayer(store, link.publish).run()) == 0
    assert link.sent == []


@pytest.mark.parametrize(("kwargs", "field"), [({"max_in_flight": 0}, "max_in_flight"), ({"rate": 0}, "rate")])
def test_bad_settings_are_refused(store: OfflineStore, kwargs, field) -> None:
    with pytest.raises(ValueError, match=field):
        Replayer(store, FakeLink().publish, **kwargs)
