"""trigger: op1 then op2, blocking, extend, reset, wait-for-reset, repeat, per topic."""

from __future__ import annotations

import pytest

from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness


def trigger(outputs: int = 1, **props: object) -> list[dict[str, object]]:
    wires = [["out"], ["second"]][:outputs]
    return [
        {"id": "t", "type": "trigger", "z": "t1", "wires": wires, "outputs": outputs, **props},
        {"id": "out", "type": "helper", "z": "t1", "wires": []},
        {"id": "second", "type": "helper", "z": "t1", "wires": []},
    ]


def payloads(harness: FlowHarness, sink: str, count: int) -> list[object]:
    return [m["payload"] for m in harness.received(sink, count)]


LONG = {"duration": "1", "units": "hr"}


def test_defaults_send_1_then_0(harness: FlowHarness) -> None:
    harness.deploy(trigger(duration="20"))
    harness.inject("t", payload="go", topic="x")
    first, second = harness.received("out", 2)
    assert (first["payload"], second["payload"]) == ("1", "0")
    assert second["topic"] == "x"


def test_messages_while_waiting_are_ignored_and_reset_cancels(harness: FlowHarness) -> None:
    harness.deploy(trigger(op1="on", op1type="str", op2="off", op2type="str", **LONG))
    for _ in range(3):
        harness.inject("t", payload="x")
    harness.inject("t", {"_msgid": "r", "reset": True})
    harness.inject("t", payload="again")
    assert payloads(harness, "out", 2) == ["on", "on"]
    assert len(harness.node("t").topics) == 1


def test_reset_by_payload_value(harness: FlowHarness) -> None:
    harness.deploy(trigger(reset="stop", **LONG))
    harness.inject("t", payload=1)
    harness.inject("t", payload="stop")
    harness.inject("t", payload=2)
    assert payloads(harness, "out", 2) == ["1", "1"]


def test_pay_and_nul(harness: FlowHarness) -> None:
    harness.deploy(trigger(op1type="pay", op2type="nul", duration="20"))
    harness.inject("t", payload={"orig": 1})
    assert payloads(harness, "out", 1) == [{"orig": 1}]
    assert harness.nothing("out")
    assert harness.node("t").topics == {}


def test_second_message_with_first_payload(harness: FlowHarness) -> None:
    harness.deploy(trigger(op1="", op1type="nul", op2type="pay", duration="300"))
    harness.inject("t", payload="first")
    harness.inject("t", payload="later")
    assert payloads(harness, "out", 1) == ["first"]


def test_second_message_is_the_latest_message(harness: FlowHarness) -> None:
    harness.deploy(trigger(op1type="nul", op2type="payl", duration="300"))
    harness.inject("t", payload="a", topic="t1")
    harness.inject("t", payload="b", topic="t2")
    msg = harness.one("out")
    assert (msg["payload"], msg["topic"]) == ("b", "t2")


def test_extend_restarts_and_takes_the_newest_message(harness: FlowHarness) -> None:
    harness.deploy(trigger(op1type="nul", op2="done", op2type="str", extend="true", duration="300"))
    harness.inject("t", payload=1, topic="first")
    harness.inject("t", payload=2, topic="newest")
    msg = harness.one("out")
    assert (msg["payload"], msg["topic"]) == ("done", "newest")


def test_zero_duration_waits_for_reset(harness: FlowHarness) -> None:
    harness.deploy(trigger(duration="0"))
    harness.inject("t", payload=1)
    harness.inject("t", payload=2)
    harness.inject("t", {"_msgid": "r", "reset": True})
    harness.inject("t", payload=3)
    assert payloads(harness, "out", 2) == ["1", "1"]
    assert harness.nothing("out")


def test_negative_duration_repeats_until_reset(harness: FlowHarness) -> None:
    harness.deploy(trigger(op1="tick", op1type="str", duration="-20"))
    harness.inject("t", payload=None)
    assert payloads(harness, "out", 3) == ["tick"] * 3
    harness.inject("t", {"_msgid": "r", "reset": True})
    while not harness.nothing("out", within=0.2):
        pass  # drain repeats already in flight
    assert harness.node("t").topics == {}


def test_by_topic_handles_each_topic_alone(harness: FlowHarness) -> None:
    harness.deploy(trigger(bytopic="topic", op1type="pay", **LONG))
    harness.inject("t", payload="a1", topic="a")
    harness.inject("t", payload="b1", topic="b")
    harness.inject("t", payload="a2", topic="a")
    assert payloads(harness, "out", 2) == ["a1", "b1"]
    assert harness.nothing("out")


def test_second_output_and_typed_values(harness: FlowHarness) -> None:
    harness.deploy(trigger(outputs=2, op1="5", op1type="num", op2='{"ok":true}', op2type="json", duration="20"))
    harness.inject("t", payload=None)
    assert payloads(harness, "out", 1) == [5]
    assert payloads(harness, "second", 1) == [{"ok": True}]


def test_template_in_op1(harness: FlowHarness) -> None:
    harness.deploy(trigger(op1="value {{payload}} <{{{topic}}}>", op1type="str", **LONG))
    harness.inject("t", payload="<5>", topic="<t>")
    assert payloads(harness, "out", 1) == ["value &lt;5&gt; <<t>>"]


def test_override_delay_from_msg(harness: FlowHarness) -> None:
    harness.deploy(trigger(overrideDelay=True, **LONG))
    harness.inject("t", payload=1, delay=20)
    assert payloads(harness, "out", 2) == ["1", "0"]


@pytest.mark.parametrize(
    ("props", "field"),
    [({"op1type": "jsonata"}, "op1type"), ({"units": "days"}, "units"), ({"op2type": "num", "op2": "x"}, "op2")],
)
def test_bad_config_is_reported(harness: FlowHarness, props: dict[str, object], field: str) -> None:
    with pytest.raises(FlowConfigError) as info:
        harness.deploy(trigger(**props))
    assert (info.value.problems[0].node_id, info.value.problems[0].field) == ("t", field)


def test_op2_follows_op1_after_exactly_the_duration(fake: FlowHarness) -> None:
    fake.deploy(trigger(op1="on", op1type="str", op2="off", op2type="str", duration="3", units="s"))
    fake.inject("t", payload="go")
    assert [m["payload"] for m in fake.taken("out")] == ["on"]
    fake.advance(2.999)
    assert fake.taken("out") == []
    fake.advance(0.001)
    assert [m["payload"] for m in fake.taken("out")] == ["off"]


def test_extend_restarts_the_duration_from_the_last_message(fake: FlowHarness) -> None:
    fake.deploy(trigger(op1="on", op1type="str", op2="off", op2type="str", duration="2", units="s", extend=True))
    fake.inject("t", payload="go")
    fake.advance(1.5)
    fake.inject("t", payload="again")
    fake.advance(1.999)
    assert [m["payload"] for m in fake.taken("out")] == ["on"]
    fake.advance(0.001)
    assert [m["payload"] for m in fake.taken("out")] == ["off"]


def test_repeat_resends_op1_every_duration_until_reset(fake: FlowHarness) -> None:
    fake.deploy(trigger(op1="tick", op1type="str", op2type="nul", duration="-0.5", units="s"))
    fake.inject("t", payload="go")
    fake.advance(1.6)
    assert [m["payload"] for m in fake.taken("out")] == ["tick"] * 4
    fake.inject("t", {"_msgid": "r", "reset": True})
    fake.advance(2.0)
    assert fake.taken("out") == []
