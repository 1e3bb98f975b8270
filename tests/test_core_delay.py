"""delay: per-message delays with flush/reset, rate limit (queue or drop), topic queues, bounded queue."""

from __future__ import annotations

import pytest

from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness, wait_until


def delay(outputs: int = 1, **props: object) -> list[dict[str, object]]:
    wires = [["out"], ["second"]][:outputs]
    return [
        {"id": "d", "type": "delay", "z": "t1", "wires": wires, "outputs": outputs, **props},
        {"id": "out", "type": "helper", "z": "t1", "wires": []},
        {"id": "second", "type": "helper", "z": "t1", "wires": []},
    ]


def payloads(harness: FlowHarness, sink: str, count: int) -> list[object]:
    return [m["payload"] for m in harness.received(sink, count)]


HOURLY = {"pauseType": "rate", "rate": "1", "rateUnits": "hour"}


def test_delay_sends_each_message_later(harness: FlowHarness) -> None:
    harness.deploy(delay(pauseType="delay", timeout="50", timeoutUnits="milliseconds"))
    for i in range(3):
        harness.inject("d", payload=i)
    assert payloads(harness, "out", 3) == [0, 1, 2]


def test_flush_releases_held_messages_in_order_and_reset_drops_them(harness: FlowHarness) -> None:
    harness.deploy(delay(pauseType="delay", timeout="1", timeoutUnits="hours"))
    for i in range(3):
        harness.inject("d", payload=i)
    harness.inject("d", {"_msgid": "f", "flush": 1})
    assert payloads(harness, "out", 1) == [0]
    harness.inject("d", {"_msgid": "r", "reset": True})
    harness.inject("d", {"_msgid": "f2", "flush": True})
    assert harness.nothing("out")
    assert harness.node("d").mode.held == 0


def test_delayv_uses_msg_delay(harness: FlowHarness) -> None:
    harness.deploy(delay(pauseType="delayv", timeout="1", timeoutUnits="hours"))
    harness.inject("d", payload="quick", delay=20)
    assert payloads(harness, "out", 1) == ["quick"]


def test_random_delay_within_bounds_delivers(harness: FlowHarness) -> None:
    harness.deploy(delay(pauseType="random", randomFirst="1", randomLast="30", randomUnits="milliseconds"))
    for i in range(5):
        harness.inject("d", payload=i)
    assert sorted(payloads(harness, "out", 5)) == [0, 1, 2, 3, 4]


def test_rate_limit_queues_and_keeps_order(harness: FlowHarness) -> None:
    harness.deploy(delay(pauseType="rate", rate="50", rateUnits="second"))
    for i in range(5):
        harness.inject("d", payload=i)
    assert payloads(harness, "out", 5) == [0, 1, 2, 3, 4]


def test_rate_queue_is_bounded_drops_oldest_and_shows_length(harness: FlowHarness) -> None:
    flow = delay(maxQueue=3, **HOURLY)
    flow.append({"id": "st", "type": "status", "z": "t1", "scope": ["d"], "wires": [["status"]]})
    flow.append({"id": "status", "type": "helper", "z": "t1", "wires": []})
    harness.deploy(flow)
    for i in range(6):
        harness.inject("d", payload=i)
    assert payloads(harness, "out", 1) == [0]
    wait_until(lambda: harness.node("d").mode.dropped == 2, what="two drops")
    assert harness.one("status")["status"]["text"] == "3 (2 dropped)"
    harness.inject("d", {"_msgid": "f", "flush": True})
    assert payloads(harness, "out", 3) == [3, 4, 5]


def test_to_front_jumps_the_queue(harness: FlowHarness) -> None:
    harness.deploy(delay(**HOURLY))
    harness.inject("d", payload="first")
    harness.inject("d", payload="queued")
    harness.inject("d", payload="urgent", toFront=True)
    harness.inject("d", {"_msgid": "f", "flush": 1})
    assert payloads(harness, "out", 2) == ["first", "urgent"]


def test_reset_empties_the_rate_queue(harness: FlowHarness) -> None:
    harness.deploy(delay(**HOURLY))
    for i in range(3):
        harness.inject("d", payload=i)
    harness.inject("d", {"_msgid": "r", "reset": True})
    assert payloads(harness, "out", 1) == [0]
    wait_until(lambda: harness.node("d").mode.held == 0, what="empty queue")
    harness.inject("d", payload="after reset")  # the timer is off again: goes at once
    assert payloads(harness, "out", 1) == ["after reset"]


def test_rate_drop_sends_extra_messages_to_second_output(harness: FlowHarness) -> None:
    harness.deploy(delay(outputs=2, drop=True, **HOURLY))
    for i in range(3):
        harness.inject("d", payload=i)
    assert payloads(harness, "out", 1) == [0]
    assert payloads(harness, "second", 2) == [1, 2]


def test_rate_drop_counts_dropped(harness: FlowHarness) -> None:
    harness.deploy(delay(drop=True, **HOURLY))
    for i in range(4):
        harness.inject("d", payload=i)
    assert payloads(harness, "out", 1) == [0]
    wait_until(lambda: harness.node("d").mode.dropped == 3, what="three drops")


def test_timed_topic_queue_keeps_newest_per_topic(harness: FlowHarness) -> None:
    harness.deploy(delay(outputs=2, pauseType="timed", rate="1", rateUnits="hour"))
    harness.inject("d", payload="a1", topic="a")
    harness.inject("d", payload="b1", topic="b")
    harness.inject("d", payload="a2", topic="a")
    assert payloads(harness, "second", 1) == ["a1"]  # replaced
    harness.inject("d", {"_msgid": "f", "flush": True})
    assert payloads(harness, "out", 2) == ["a2", "b1"]


def test_topic_queue_releases_on_its_interval(harness: FlowHarness) -> None:
    harness.deploy(delay(pauseType="queue", rate="50", rateUnits="second"))
    harness.inject("d", payload="x", topic="a")
    harness.inject("d", payload="y", topic="b")
    assert payloads(harness, "out", 2) == ["x", "y"]


@pytest.mark.parametrize(
    ("props", "field"),
    [
        ({"pauseType": "sometimes"}, "pauseType"),
        ({"timeoutUnits": "weeks"}, "timeoutUnits"),
        ({"rate": "0"}, "rate"),
        ({"maxQueue": 0}, "maxQueue"),
    ],
)
def test_bad_config_is_reported(harness: FlowHarness, props: dict[str, object], field: str) -> None:
    with pytest.raises(FlowConfigError) as info:
        harness.deploy(delay(**props))
    assert (info.value.problems[0].node_id, info.value.problems[0].field) == ("d", field)


def test_fixed_delay_holds_each_message_exactly_its_delay(fake: FlowHarness) -> None:
    fake.deploy(delay(pauseType="delay", timeout="2", timeoutUnits="seconds"))
    fake.inject("d", payload="a")
    fake.advance(0.5)
    fake.inject("d", payload="b")
    fake.advance(1.499)
    assert fake.taken("out") == []
    fake.advance(0.001)
    assert [m["payload"] for m in fake.taken("out")] == ["a"]
    fake.advance(0.499)
    assert fake.taken("out") == []
    fake.advance(0.001)
    assert [m["payload"] for m in fake.taken("out")] == ["b"]


def test_rate_limit_releases_one_message_per_period(fake: FlowHarness) -> None:
    fake.deploy(delay(pauseType="rate", rate="2", nbRateUnits="1", rateUnits="second"))
    for i in range(4):
        fake.inject("d", payload=i)
    assert [m["payload"] for m in fake.taken("out")] == [0]
    released = []
    for _ in range(6):
        fake.advance(0.25)
        released.append([m["payload"] for m in fake.taken("out")])
    assert released == [[], [1], [], [2], [], [3]]
