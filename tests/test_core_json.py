"""json: both directions, forced actions, pretty output, parse errors to catch."""

from __future__ import annotations

import pytest

from flowengine.testing import FlowHarness


def flow(**props: object) -> list[dict[str, object]]:
    return [
        {"id": "j", "type": "json", "z": "t1", "wires": [["out"]], **props},
        {"id": "c", "type": "catch", "z": "t1", "scope": None, "wires": [["caught"]]},
        {"id": "out", "type": "helper", "z": "t1", "wires": []},
        {"id": "caught", "type": "helper", "z": "t1", "wires": []},
    ]


@pytest.mark.parametrize(
    ("props", "payload", "expected"),
    [
        ({}, '{"a":[1,2]}', {"a": [1, 2]}),
        ({}, {"a": "é"}, '{"a":"é"}'),
        ({}, b"[1]", [1]),
        ({}, 5, "5"),
        ({"action": "obj"}, {"a": 1}, {"a": 1}),
        ({"action": "str"}, '{"a":1}', '{"a":1}'),
        ({"pretty": True}, {"a": 1}, '{\n    "a": 1\n}'),
    ],
)
def test_conversions(harness: FlowHarness, props: dict[str, object], payload: object, expected: object) -> None:
    harness.deploy(flow(**props))
    harness.inject("j", payload=payload)
    assert harness.one("out")["payload"] == expected


def test_other_property_and_missing_property_passes(harness: FlowHarness) -> None:
    harness.deploy(flow(property="body.text"))
    harness.inject("j", payload=1, body={"text": "[true]"})
    assert harness.one("out")["body"]["text"] == [True]
    harness.inject("j", payload="{not json")
    assert harness.one("out")["payload"] == "{not json"


def test_parse_error_goes_to_catch_with_the_message(harness: FlowHarness) -> None:
    harness.deploy(flow())
    harness.inject("j", payload="{oops", topic="keep")
    caught = harness.one("caught")
    assert caught["topic"] == "keep"
    assert caught["payload"] == "{oops"
    assert "not valid JSON" in caught["error"]["message"]
    assert caught["error"]["source"] == {"id": "j", "type": "json", "name": "", "count": 1}
    assert harness.nothing("out")
