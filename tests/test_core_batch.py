"""batch: by count (with overlap), by interval on the fake clock, concatenated topics."""

from __future__ import annotations

from typing import Any

import pytest

from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness


def flow(**props: Any) -> list[dict[str, Any]]:
    return [
        {"id": "sp", "type": "split", "z": "t", "wires": [["b"]]},
        {"id": "b", "type": "batch", "z": "t", "wires": [["out"]], **props},
        {"id": "out", "type": "helper", "z": "t", "wires": []},
    ]


def sequences(fake: FlowHarness) -> list[list[Any]]:
    """Payloads grouped by parts.id, checking index and count on the way."""
    groups: dict[str, list[Any]] = {}
    for msg in fake.taken("out"):
        group = groups.setdefault(msg["parts"]["id"], [])
        assert msg["parts"]["index"] == len(group)
        group.append((msg["payload"], msg["parts"]["count"]))
    return [[payload for payload, _ in g] for g in groups.values() if all(c == len(g) for _, c in g)]


def test_count_with_overlap(fake: FlowHarness) -> None:
    fake.deploy(flow(mode="count", count=3, overlap=1))
    for value in "abcde":
        fake.inject("b", payload=value)
    assert sequences(fake) == [["a", "b", "c"], ["c", "d", "e"]]


def test_count_sequence_id_is_the_first_messages_id(fake: FlowHarness) -> None:
    fake.deploy(flow(mode="count", count=2))
    fake.inject("b", {"_msgid": "first", "payload": 1})
    fake.inject("b", {"_msgid": "second", "payload": 2})
    assert {m["parts"]["id"] for m in fake.taken("out")} == {"first"}


def test_interval_sends_what_arrived_each_interval(fake: FlowHarness) -> None:
    fake.deploy(flow(mode="interval", interval=2))
    fake.inject("b", payload=1)
    fake.advance(1.0)
    fake.inject("b", payload=2)
    fake.advance(0.999)
    assert fake.taken("out") == []
    fake.advance(0.001)
    assert sequences(fake) == [[1, 2]]
    fake.advance(2)
    assert fake.taken("out") == []  # nothing arrived: nothing sent


def test_interval_empty_sequences_and_reset_restarts_the_timer(fake: FlowHarness) -> None:
    fake.deploy(flow(mode="interval", interval=1, allowEmptySequence=True))
    fake.advance(0.6)
    fake.inject("b", {"_msgid": "r", "reset": True})
    fake.advance(0.9)
    assert fake.taken("out") == []
    fake.advance(0.1)
    empty = fake.taken("out")
    assert [(m["payload"], m["parts"]["index"], m["parts"]["count"]) for m in empty] == [(None, 0, 1)]


def test_concat_topics_in_order(fake: FlowHarness) -> None:
    fake.deploy(flow(mode="concat", topics=[{"topic": "a"}, {"topic": "b"}]))
    fake.inject("sp", payload=[3, 4], topic="b")
    fake.inject("sp", payload=[9], topic="other")
    assert fake.taken("out") == []
    fake.inject("sp", payload=[1, 2], topic="a")
    assert sequences(fake) == [[1, 2, 3, 4]]


def test_concat_needs_parts(fake: FlowHarness) -> None:
    catch = {"id": "c", "type": "catch", "z": "t", "wires": [["e"]]}
    fake.deploy([*flow(mode="concat", topics=[{"topic": "a"}]), catch, {"id": "e", "type": "helper", "z": "t"}])
    fake.inject("b", payload=1, topic="a")
    assert "msg.parts" in fake.taken("e")[0]["error"]["message"]


@pytest.mark.parametrize(("props", "field"), [({"count": 2, "overlap": 2}, "overlap"), ({"mode": "window"}, "mode")])
def test_bad_config_is_reported(harness: FlowHarness, props: dict[str, Any], field: str) -> None:
    with pytest.raises(FlowConfigError) as info:
        harness.deploy(flow(**props))
    assert (info.value.problems[0].node_id, info.value.problems[0].field) == ("b", field)
