"""sort: arrays in a property and message sequences, JavaScript comparisons, JSONata keys refused."""

from __future__ import annotations

from typing import Any

import pytest

from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness


def flow(**props: Any) -> list[dict[str, Any]]:
    return [
        {"id": "sp", "type": "split", "z": "t", "wires": [["s"]]},
        {"id": "s", "type": "sort", "z": "t", "wires": [["out"]], **props},
        {"id": "out", "type": "helper", "z": "t", "wires": []},
    ]


def test_sorts_the_array_in_place(fake: FlowHarness) -> None:
    fake.deploy(flow(target="data"))
    fake.inject("s", payload="p", data=[10, 9, 1, 2.5])
    fake.inject("s", payload="p", data=["b", "B", "a", "10", "9"])
    fake.inject("s", payload="p", data="not an array")
    assert [m["data"] for m in fake.taken("out")] == [[1, 2.5, 9, 10], ["10", "9", "B", "a", "b"]]


def test_as_numbers_descending(fake: FlowHarness) -> None:
    fake.deploy(flow(as_num=True, order="descending"))
    fake.inject("s", payload=["10", "9", "100"])
    assert fake.taken("out")[0]["payload"] == ["100", "10", "9"]


def test_sequence_waits_for_all_then_renumbers(fake: FlowHarness) -> None:
    fake.deploy(flow(targetType="seq", seqKey="payload.t"))
    fake.inject("sp", payload=[{"t": 3}, {"t": 1}, {"t": 2}])
    out = fake.taken("out")
    assert [(m["payload"]["t"], m["parts"]["index"]) for m in out] == [(1, 0), (2, 1), (3, 2)]


def test_messages_outside_a_sequence_are_dropped(fake: FlowHarness) -> None:
    fake.deploy(flow(targetType="seq"))
    fake.inject("s", payload=1)
    assert fake.taken("out") == []


def test_an_array_sorts_by_a_jsonata_key_of_each_item(harness: FlowHarness) -> None:
    harness.deploy(flow(targetType="msg", msgKeyType="jsonata", msgKey="temp", order="descending"))
    harness.inject("s", payload=[{"id": "a", "temp": 3}, {"id": "b", "temp": 9}, {"id": "c", "temp": 5}])
    assert [item["id"] for item in harness.one("out")["payload"]] == ["b", "c", "a"]


def test_a_sequence_sorts_by_a_jsonata_key_of_each_message(harness: FlowHarness) -> None:
    harness.deploy(flow(targetType="seq", seqKeyType="jsonata", seqKey="$length(payload)"))
    for index, text in enumerate(["ccc", "a", "bb"]):
        harness.inject("s", payload=text, parts={"id": "q", "index": index, "count": 3})
    out = harness.received("out", 3)
    assert [(m["payload"], m["parts"]["index"]) for m in out] == [("a", 0), ("bb", 1), ("ccc", 2)]


@pytest.mark.parametrize(
    "props",
    [{"msgKeyType": "jsonata", "msgKey": "temp +"}, {"targetType": "seq", "seqKeyType": "jsonata", "seqKey": "(("}],
)
def test_a_jsonata_key_that_cannot_parse_names_its_field(harness: FlowHarness, props: dict[str, Any]) -> None:
    with pytest.raises(FlowConfigError) as info:
        harness.deploy(flow(**props))
    assert ("msgKey" if "msgKey" in props else "seqKey") in info.value.problems[0].message
