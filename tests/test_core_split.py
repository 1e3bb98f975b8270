"""split: strings, arrays, objects, buffers, streams, and msg.parts as Node-RED sets it."""

from __future__ import annotations

from typing import Any

import pytest

from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness


def flow(**props: Any) -> list[dict[str, Any]]:
    return [
        {"id": "s", "type": "split", "z": "t", "wires": [["out"]], **props},
        {"id": "out", "type": "helper", "z": "t", "wires": []},
    ]


def split(fake: FlowHarness, **fields: Any) -> list[dict[str, Any]]:
    fake.inject("s", **fields)
    return fake.taken("out")


def test_string_lines_with_parts(fake: FlowHarness) -> None:
    fake.deploy(flow())
    out = split(fake, payload="a\nb\nc", topic="t")
    assert [m["payload"] for m in out] == ["a", "b", "c"]
    ids = {m["parts"]["id"] for m in out}
    assert len(ids) == 1
    assert [{k: v for k, v in m["parts"].items() if k != "id"} for m in out] == [
        {"type": "string", "ch": "\n", "count": 3, "index": i} for i in range(3)
    ]
    assert all(m["topic"] == "t" and m["_msgid"] for m in out)
    assert len({m["_msgid"] for m in out}) == 3


def test_existing_parts_are_kept_underneath(fake: FlowHarness) -> None:
    fake.deploy(flow(splt=","))
    out = split(fake, payload="x,y", parts={"id": "outer", "index": 4, "count": 9})
    assert [m["parts"]["parts"] for m in out] == [{"id": "outer", "index": 4, "count": 9}] * 2


def test_fixed_length_and_other_property(fake: FlowHarness) -> None:
    fake.deploy(flow(splt="2", spltType="len", property="data"))
    out = split(fake, data="abcde")
    assert [m["data"] for m in out] == ["ab", "cd", "e"]
    assert out[0]["parts"]["property"] == "data"
    assert (out[0]["parts"]["len"], out[0]["parts"]["ch"], out[2]["parts"]["count"]) == (2, "", 3)


def test_array_by_pairs_and_object_keys(fake: FlowHarness) -> None:
    fake.deploy(flow(arraySplt=2, addname="key"))
    pairs = split(fake, payload=[1, 2, 3])
    keys = split(fake, payload={"a": 1, "b": 2})
    assert [m["payload"] for m in pairs] == [[1, 2], [3]]
    assert pairs[0]["parts"]["type"] == "array" and pairs[0]["parts"]["len"] == 2
    assert [(m["key"], m["payload"], m["parts"]["key"], m["parts"]["count"]) for m in keys] == [
        ("a", 1, "a", 2),
        ("b", 2, "b", 2),
    ]


def test_stream_keeps_the_tail_and_counts_on(fake: FlowHarness) -> None:
    fake.deploy(flow(stream=True))
    first = split(fake, payload="1\n2")
    second = split(fake, payload="3\n4\n")
    assert [m["payload"] for m in first + second] == ["1", "23", "4"]
    assert [m["parts"]["index"] for m in first + second] == [0, 1, 2]
    assert all("count" not in m["parts"] for m in first + second)


def test_buffers_at_bytes_and_in_frames(fake: FlowHarness) -> None:
    fake.deploy(flow(splt="[0]", spltType="bin"))
    out = split(fake, payload=b"ab\x00cd\x00e")
    assert [m["payload"] for m in out] == [b"ab", b"cd", b"e"]
    assert out[0]["parts"]["ch"] == [0] and out[0]["parts"]["type"] == "buffer"
    fake.deploy(flow(splt="3", spltType="len"))
    assert [m["payload"] for m in split(fake, payload=b"1234567")] == [b"123", b"456", b"7"]


def test_other_values_and_missing_property_send_nothing(fake: FlowHarness) -> None:
    fake.deploy(flow())
    assert split(fake, payload=5) == []
    assert split(fake, topic="no payload") == []


@pytest.mark.parametrize(
    ("props", "field"),
    [
        ({"splt": "0", "spltType": "len"}, "splt"),
        ({"splt": "[x]", "spltType": "bin"}, "splt"),
        ({"arraySplt": 0}, "arraySplt"),
    ],
)
def test_bad_config_is_reported(harness: FlowHarness, props: dict[str, Any], field: str) -> None:
    with pytest.raises(FlowConfigError) as info:
        harness.deploy(flow(**props))
    assert (info.value.problems[0].node_id, info.value.problems[0].field) == ("s", field)
