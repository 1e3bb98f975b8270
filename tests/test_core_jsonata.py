"""JSONata: the evaluator on golden data, Node-RED's bindings, and its use in change, switch and inject."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from flowengine.clock import FakeClock
from flowengine.errors import ExpressionError, FlowConfigError
from flowengine.services import Services
from flowengine.testing import FlowHarness
from nodes.core.jsonata import compile_jsonata, is_bounded

MSG = {
    "_msgid": "m1",
    "topic": "sensors/room1",
    "payload": {"temp": 21.5, "n": 10, "items": [{"name": "a", "price": 5}, {"name": "b", "price": 15}]},
}


class FakeNode:
    """Just what an evaluation reads from a node: clock, contexts, environment, runtime services."""

    def __init__(self) -> None:
        self.clock = FakeClock(wall_start=1577836800.25)
        self.values = {"flow": {"limit": 5}, "global": {"site": "north"}}
        self.runtime = type("R", (), {"services": Services()})()

    def context(self, scope: str) -> Any:
        values = self.values[scope]
        return type("C", (), {"get": staticmethod(values.get)})()

    def env_get(self, name: str) -> Any:
        return {"SITE_NAME": "depot"}.get(name)


def evaluate(source: str, msg: dict[str, Any] = MSG) -> tuple[bool, Any]:
    return asyncio.run(compile_jsonata(source).evaluate_defined(FakeNode(), msg))  # type: ignore[arg-type]


# Results recorded from Node-RED 4's JSONata (node_modules/@node-red/util/lib/jsonata.js).
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("payload.temp > 20", True),
        ("payload.n / 4", 2.5),
        ("payload.items[price > 10].name", "b"),
        ("$sum(payload.items.price) * 2", 40),
        ('topic & "/" & $string(payload.n)', "sensors/room1/10"),
        ('payload.items.{"n": name, "p": price * 2}', [{"n": "a", "p": 10}, {"n": "b", "p": 30}]),
        ("$string(100000000000000000000)", "100000000000000000000"),
        ('$formatNumber(1234.5, "#,##0.00")', "1,234.50"),
        ("$round(2.5)", 2),
        ("msg.payload.n + 1", 11),  # legacy mode: the expression names msg
        ("$$.topic", "sensors/room1"),
        ('$flowContext("limit") + 1', 6),
        ('$globalContext("#:(memory)::site")', "north"),
        ('$env("SITE_NAME") & $env("UNSET")', "depot"),
        ("$millis()", 1577836800250),
        ("$now()", "2020-01-01T00:00:00.250Z"),
        ('$now("[Y0001]-[M01]")', "2020-01"),
        ("null", None),
    ],
)
def test_results_match_node_red(source: str, expected: Any) -> None:
    assert evaluate(source) == (True, expected)


def test_undefined_is_told_apart_from_null() -> None:
    assert evaluate("payload.missing") == (False, None)
    assert evaluate("null") == (True, None)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("payload +", "invalid JSONata expression: Unexpected end of expression"),
        ("$moment()", "$moment is not supported"),
        ("", "empty"),
        ("1 + " * 2000 + "1", "longer than"),
    ],
)
def test_bad_expressions_are_refused_when_compiled(source: str, reason: str) -> None:
    with pytest.raises(ExpressionError, match=reason.replace("$", r"\$")):
        compile_jsonata(source)


@pytest.mark.parametrize(
    ("source", "bounded"),
    [
        ("payload.temp > 20", True),
        ('$flowContext("x") & topic', True),
        ("payload / 2", True),
        ("payload.items[price > 10]", False),  # filter
        ("$map([1..10], function($v){$v})", False),  # range, lambda
        ("$x", False),  # variable
        ("$pad('', 1000000000)", False),  # not a scalar function
        ("payload.items^(price)", False),  # sort
        ("$match(topic, /a+/)", False),  # regular expression
    ],
)
def test_only_linear_expressions_run_in_process(source: str, bounded: bool) -> None:
    assert is_bounded(source) is bounded


def change_flow(rule: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"id": "c", "type": "change", "z": "t1", "rules": [rule], "wires": [["out"]]},
        {"id": "k", "type": "catch", "z": "t1", "scope": ["c"], "wires": [["caught"]]},
        {"id": "out", "type": "helper", "z": "t1", "wires": []},
        {"id": "caught", "type": "helper", "z": "t1", "wires": []},
    ]


def test_change_sets_a_jsonata_value_in_process_and_in_a_worker(harness: FlowHarness) -> None:
    harness.deploy(change_flow({"t": "set", "p": "total", "to": "$sum(payload.items.price)", "tot": "jsonata"}))
    harness.inject("c", payload=MSG["payload"])
    assert harness.one("out")["total"] == 20
    worker = {"t": "set", "p": "names", "to": "payload.items[price > 1].name", "tot": "jsonata"}
    harness.deploy(change_flow(worker))
    harness.inject("c", payload=MSG["payload"])
    assert harness.one("out", timeout=20)["names"] == ["a", "b"]


def test_change_undefined_result_deletes_the_property(harness: FlowHarness) -> None:
    harness.deploy(change_flow({"t": "set", "p": "topic", "to": "payload.missing", "tot": "jsonata"}))
    harness.inject("c", payload={}, topic="gone")
    assert "topic" not in harness.one("out")


def test_change_failure_goes_to_catch_and_stops_the_message(harness: FlowHarness) -> None:
    harness.deploy(change_flow({"t": "set", "p": "x", "to": '$number("abc") + $error("boom")', "tot": "jsonata"}))
    harness.inject("c", payload=1, topic="kept")
    caught = harness.one("caught", timeout=20)
    assert caught["error"]["message"].startswith("Invalid JSONata expression: ")
    assert caught["topic"] == "kept"
    assert harness.nothing("out", within=0.1)


def test_change_rule_config_error_names_the_field(harness: FlowHarness) -> None:
    with pytest.raises(FlowConfigError) as info:
        harness.deploy(change_flow({"t": "set", "p": "x", "to": "payload.(", "tot": "jsonata"}))
    assert (info.value.problems[0].node_id, info.value.problems[0].field) == ("c", "rules.0.to")


def switch_flow(rules: list[dict[str, Any]], **props: Any) -> list[dict[str, Any]]:
    outs = [f"o{i}" for i in range(len(rules))]
    return [
        {"id": "s", "type": "switch", "z": "t1", "rules": rules, "wires": [[o] for o in outs], **props},
        *({"id": o, "type": "helper", "z": "t1", "wires": []} for o in outs),
    ]


def test_switch_jsonata_rules_and_property(harness: FlowHarness) -> None:
    rules = [
        {"t": "jsonata_exp", "v": "payload.temp > 20", "vt": "jsonata"},
        {"t": "eq", "v": "payload.limit * 2", "vt": "jsonata"},
        {"t": "else"},
    ]
    harness.deploy(switch_flow(rules))
    harness.inject("s", payload={"temp": 25, "limit": 1})
    assert harness.one("o0")["payload"]["temp"] == 25
    harness.deploy(
        switch_flow(
            [{"t": "eq", "v": "hot", "vt": "str"}],
            property="payload.temp > 20 ? 'hot' : 'cold'",
            propertyType="jsonata",
        )
    )
    harness.inject("s", payload={"temp": 30})
    assert harness.one("o0")["payload"] == {"temp": 30}


def test_inject_jsonata_props_see_the_message_built_so_far(harness: FlowHarness) -> None:
    props = [
        {"p": "payload", "v": "21", "vt": "num"},
        {"p": "doubled", "v": "payload * 2", "vt": "jsonata"},
    ]
    harness.deploy(
        [
            {"id": "i", "type": "inject", "z": "t1", "props": props, "wires": [["out"]]},
            {"id": "out", "type": "helper", "z": "t1", "wires": []},
        ]
    )
    harness.inject("i")
    assert harness.one("out")["doubled"] == 42


def test_inject_legacy_jsonata_payload(harness: FlowHarness) -> None:
    harness.deploy(
        [
            {
                "id": "i",
                "type": "inject",
                "z": "t1",
                "payloadType": "jsonata",
                "payload": "$millis() > 0",
                "wires": [["out"]],
            },
            {"id": "out", "type": "helper", "z": "t1", "wires": []},
        ]
    )
    harness.inject("i")
    assert harness.one("out")["payload"] is True


def test_a_dropped_expression_frees_its_engine_object() -> None:
    """A flow redeployed for months must not keep every expression it ever compiled."""
    import gc

    from nodes.core.jsonata import _ENGINE

    def settled() -> int:
        gc.collect()
        _ENGINE.call(lambda: None)  # frees are queued on the engine thread: wait for them
        return len(_ENGINE.objects)

    before = settled()
    expressions = [compile_jsonata(f"payload.a + {n}") for n in range(20)]
    assert len(_ENGINE.objects) == before + 20
    del expressions
    assert settled() == before
