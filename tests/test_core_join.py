"""join: automatic (after split), custom builds, count, timeout on the fake clock, complete, reset, accumulate."""

from __future__ import annotations

from typing import Any

import pytest

from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness


def flow(**props: Any) -> list[dict[str, Any]]:
    return [
        {"id": "s", "type": "split", "z": "t", "wires": [["j"]], "splt": ","},
        {"id": "j", "type": "join", "z": "t", "wires": [["out"]], **props},
        {"id": "out", "type": "helper", "z": "t", "wires": []},
    ]


def payloads(fake: FlowHarness) -> list[Any]:
    return [m.get("payload") for m in fake.taken("out")]


@pytest.mark.parametrize(
    "value",
    ["a,b,c", [1, [2], {"x": 3}], {"k": 1, "l": "two"}, b"ab,cd", ""],
)
def test_auto_rebuilds_what_split_took_apart(fake: FlowHarness, value: Any) -> None:
    fake.deploy(flow(mode="auto"))
    fake.inject("s", payload=value, topic="t")
    out = fake.taken("out")
    assert [m["payload"] for m in out] == [value]
    assert "parts" not in out[0] and out[0]["topic"] == "t"


def test_auto_restores_outer_parts_and_ignores_loose_messages(fake: FlowHarness) -> None:
    fake.deploy(flow(mode="auto"))
    fake.inject("s", payload="x,y", parts={"id": "outer", "index": 1, "count": 2})
    fake.inject("j", payload="no parts")
    out = fake.taken("out")
    assert [(m["payload"], m["parts"]) for m in out] == [("x,y", {"id": "outer", "index": 1, "count": 2})]


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"build": "array"}, [[1, "2", None]]),
        ({"build": "string", "joiner": "\\n"}, ["1\n2\n"]),
        ({"build": "object", "key": "topic"}, [{"a": 1, "b": "2", "c": None}]),
        ({"build": "merged"}, []),  # values that are not objects do not count towards a merge
        ({"build": "buffer", "joiner": "[45]", "joinerType": "bin"}, None),
    ],
)
def test_custom_builds_after_count(fake: FlowHarness, props: dict[str, Any], expected: list[Any] | None) -> None:
    fake.deploy(flow(mode="custom", count="3", **props))
    for topic, value in (("a", 1), ("b", "2"), ("c", None)):
        fake.inject("j", payload=value, topic=topic)
    if expected is None:  # a None payload cannot be joined into a buffer: an error
        assert payloads(fake) == []
    else:
        assert payloads(fake) == expected


def test_merged_objects_until_complete(fake: FlowHarness) -> None:
    fake.deploy(flow(mode="custom", build="merged", count=""))
    fake.inject("j", payload={"a": 1, "b": 1})
    fake.inject("j", payload={"b": 2})
    assert payloads(fake) == []
    fake.inject("j", payload={"c": 3}, complete=True)
    out = fake.taken("out")
    assert [m["payload"] for m in out] == [{"a": 1, "b": 2, "c": 3}] and "complete" not in out[0]


def test_timeout_sends_what_arrived_after_exactly_the_timeout(fake: FlowHarness) -> None:
    fake.deploy(flow(mode="custom", build="array", count="", timeout="2"))
    fake.inject("j", payload=1)
    fake.advance(1.5)
    fake.inject("j", payload=2)
    fake.advance(0.499)
    assert payloads(fake) == []
    fake.advance(0.001)
    assert payloads(fake) == [[1, 2]]


def test_restart_timeout_and_reset(fake: FlowHarness) -> None:
    fake.deploy(flow(mode="custom", build="array", count="", timeout="1"))
    fake.inject("j", payload=1)
    fake.advance(0.8)
    fake.inject("j", payload=2, restartTimeout=True)
    fake.advance(0.9)
    assert payloads(fake) == []
    fake.advance(0.1)
    assert payloads(fake) == [[1, 2]]
    fake.inject("j", payload=3)
    fake.inject("j", {"_msgid": "r", "reset": True})
    fake.advance(5)
    assert payloads(fake) == []


def test_accumulate_keeps_growing(fake: FlowHarness) -> None:
    fake.deploy(flow(mode="custom", build="object", key="topic", count="2", accumulate=True))
    for topic, value in (("a", 1), ("b", 2), ("c", 3)):
        fake.inject("j", payload=value, topic=topic)
    assert payloads(fake) == [{"a": 1, "b": 2}, {"a": 1, "b": 2, "c": 3}]


def test_whole_messages(fake: FlowHarness) -> None:
    fake.deploy(flow(mode="custom", build="array", propertyType="full", count="2"))
    fake.inject("j", payload=1, topic="x")
    fake.inject("j", payload=2, topic="y")
    assert [[(m["topic"], m["payload"]) for m in p] for p in payloads(fake)] == [[("x", 1), ("y", 2)]]


def test_reduce_folds_a_sequence_and_fixes_up_the_result(harness: FlowHarness) -> None:
    harness.deploy(
        flow(mode="reduce", reduceExp="$A + payload", reduceInit="0", reduceInitType="num", reduceFixup="$A / $N")
    )
    for index, value in ((2, 30), (0, 10), (1, 20)):  # out of order: folded by parts.index
        harness.inject("j", payload=value, parts={"id": "s1", "index": index, "count": 3})
    assert harness.one("out")["payload"] == 20


def test_reduce_right_folds_from_the_last_message(harness: FlowHarness) -> None:
    harness.deploy(flow(mode="reduce", reduceExp="$A & payload", reduceInit="", reduceInitType="str", reduceRight=True))
    for index, value in enumerate("abc"):
        harness.inject("j", payload=value, parts={"id": "s2", "index": index, "count": 3})
    assert harness.one("out")["payload"] == "cba"


def test_a_reduce_expression_that_cannot_parse_names_its_field(harness: FlowHarness) -> None:
    with pytest.raises(FlowConfigError) as info:
        harness.deploy(flow(mode="reduce", reduceExp="$A +", reduceInit="0", reduceInitType="num"))
    problem = info.value.problems[0]
    assert problem.node_id == "j" and "reduceExp" in problem.message
