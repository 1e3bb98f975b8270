"""range: scale, clamp, roll, drop, rounding, inverted ranges and config errors."""

from __future__ import annotations

from typing import Any

import pytest

from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness


def flow(**props: Any) -> list[dict[str, Any]]:
    limits = {"minin": "0", "maxin": "10", "minout": "0", "maxout": "100"}
    return [
        {"id": "r", "type": "range", "z": "t", "wires": [["out"]], **limits, **props},
        {"id": "out", "type": "helper", "z": "t", "wires": []},
    ]


def mapped(fake: FlowHarness, *values: Any) -> list[Any]:
    for value in values:
        fake.inject("r", payload=value)
    return [m["payload"] for m in fake.taken("out")]


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("scale", [-50, 0, 25, 100, 150]),
        ("clamp", [0, 0, 25, 100, 100]),
        ("roll", [50, 0, 25, 0, 50]),
        ("drop", [0, 25, 100]),
    ],
)
def test_actions(fake: FlowHarness, action: str, expected: list[float]) -> None:
    fake.deploy(flow(action=action))
    assert mapped(fake, -5, 0, 2.5, 10, 15) == expected


def test_round_and_inverted_input_range(fake: FlowHarness) -> None:
    """Ranges given high-to-low swap both ends; rounding first narrows the output to whole numbers (8..0)."""
    fake.deploy(flow(minin="10", maxin="0", minout="0", maxout="7.5", round=True))
    assert mapped(fake, 0, 5, 9) == [8, 4, 1]


def test_text_numbers_scale_others_drop_missing_passes(fake: FlowHarness) -> None:
    fake.deploy(flow())
    fake.inject("r", payload="5")
    fake.inject("r", payload="five")
    fake.inject("r", {"_msgid": "x", "topic": "no payload"})
    assert [m.get("payload") for m in fake.taken("out")] == [50, None]


@pytest.mark.parametrize(("props", "field"), [({"minin": "low"}, "minin"), ({"action": "wrap"}, "action")])
def test_bad_config_is_reported(harness: FlowHarness, props: dict[str, Any], field: str) -> None:
    with pytest.raises(FlowConfigError) as info:
        harness.deploy(flow(**props))
    assert (info.value.problems[0].node_id, info.value.problems[0].field) == ("r", field)
