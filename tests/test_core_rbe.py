"""rbe (filter): report by exception, the band modes, topics, reset and config errors."""

from __future__ import annotations

from typing import Any

import pytest

from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness


def flow(**props: Any) -> list[dict[str, Any]]:
    return [
        {"id": "r", "type": "rbe", "z": "t", "wires": [["out"]], **props},
        {"id": "out", "type": "helper", "z": "t", "wires": []},
    ]


def passed(fake: FlowHarness, *messages: dict[str, Any]) -> list[Any]:
    for msg in messages:
        fake.inject("r", {"_msgid": "m", **msg})
    return [m.get("payload") for m in fake.taken("out")]


def test_rbe_passes_changes_only_per_topic(fake: FlowHarness) -> None:
    fake.deploy(flow())
    sent = passed(
        fake,
        {"topic": "a", "payload": 1},
        {"topic": "a", "payload": 1.0},
        {"topic": "b", "payload": 1},
        {"topic": "a", "payload": True},
        {"topic": "a", "payload": "1"},
    )
    assert sent == [1, 1, True, "1"]


def test_rbei_remembers_the_first_value_without_sending_it(fake: FlowHarness) -> None:
    fake.deploy(flow(func="rbei"))
    assert passed(fake, {"payload": 3}, {"payload": 3}, {"payload": 4}) == [4]


def test_objects_compare_deeply_and_reset_forgets(fake: FlowHarness) -> None:
    fake.deploy(flow())
    sent = passed(fake, {"payload": {"a": [1]}}, {"payload": {"a": [1]}}, {"reset": True}, {"payload": {"a": [1]}})
    assert sent == [{"a": [1]}, {"a": [1]}]


@pytest.mark.parametrize(
    ("func", "values", "expected"),
    [
        ("deadband", [10, 11, 12, 12.5, 9], [10, 12.5, 9]),
        ("deadbandEq", [10, 11, 12, 13, 14], [10, 12, 14]),
        ("narrowband", [10, 30, 11, 12, 13], [10, 11, 12, 13]),
        ("narrowbandEq", [10, 12, 11, 13], [10, 11]),
    ],
)
def test_bands_with_a_gap_of_2(fake: FlowHarness, func: str, values: list[float], expected: list[float]) -> None:
    fake.deploy(flow(func=func, gap="2"))
    assert passed(fake, *({"payload": v} for v in values)) == expected


def test_percent_gap_and_input_comparison(fake: FlowHarness) -> None:
    fake.deploy(flow(func="deadband", gap="10%", inout="in"))
    assert passed(fake, *({"payload": v} for v in [100, 105, 110, 125, 126])) == [100, 125]


def test_non_numbers_are_ignored_and_text_numbers_parsed(fake: FlowHarness) -> None:
    fake.deploy(flow(func="deadband", gap="1", property="payload.v"))
    sent = passed(fake, {"payload": {"v": "5 V"}}, {"payload": {"v": "volts"}}, {"payload": {}}, {"payload": {"v": 7}})
    assert sent == [{"v": "5 V"}, {"v": 7}]


def test_one_value_for_all_topics(fake: FlowHarness) -> None:
    fake.deploy(flow(septopics=False))
    assert passed(fake, {"topic": "a", "payload": 1}, {"topic": "b", "payload": 1}) == [1]


@pytest.mark.parametrize(("props", "field"), [({"func": "median"}, "func"), ({"gap": "wide"}, "gap")])
def test_bad_config_is_reported(harness: FlowHarness, props: dict[str, Any], field: str) -> None:
    with pytest.raises(FlowConfigError) as info:
        harness.deploy(flow(**props))
    assert (info.value.problems[0].node_id, info.value.problems[0].field) == ("r", field)
