"""expression: results on msg or context, context getters, deploy-time syntax errors, sandbox escapes."""

from __future__ import annotations

import time

import pytest

from flowengine.errors import ExpressionError, FlowConfigError
from flowengine.testing import FlowHarness
from nodes.core.sandbox import Limits, Sandbox


def expression(source: str, **props: object) -> list[dict[str, object]]:
    return [
        {"id": "e", "type": "expression", "z": "t1", "expression": source, "wires": [["out"]], **props},
        {"id": "c", "type": "catch", "z": "t1", "scope": ["e"], "wires": [["caught"]]},
        {
            "id": "side",
            "type": "change",
            "z": "t1",
            "rules": [{"t": "set", "p": "ok", "to": "yes"}],
            "wires": [["alive"]],
        },
        *({"id": h, "type": "helper", "z": "t1", "wires": []} for h in ("out", "caught", "alive")),
    ]


def evaluate(harness: FlowHarness, source: str, payload: object = None, **fields: object) -> object:
    harness.deploy(expression(source))
    harness.inject("e", payload=payload, **fields)
    return harness.one("out")["payload"]


@pytest.mark.parametrize(
    ("source", "payload", "expected"),
    [
        ("payload * 2 + 1", 20, 41),
        ("msg.payload['temp'] > 30", {"temp": 31}, True),
        ("payload.temp if payload.get('temp') is not None else -1", {"temp": 5}, 5),
        ("round(sqrt(payload), 2)", 2, 1.41),
        ("max(payload) - min(payload)", [3, 9, 1], 8),
        ("sorted(payload, reverse=True)[:2]", [1, 3, 2], [3, 2]),
        ("{'sum': sum(payload), 'n': len(payload)}", [1, 2, 3], {"sum": 6, "n": 3}),
        ("[x * 10 for x in payload if x > 1]", [1, 2, 3], [20, 30]),
        ("f'{msg.topic}:{payload:.1f}'", 2.25, "room:2.2"),
        ("', '.join(str(k) for k in payload.keys())", {"a": 1, "b": 2}, "a, b"),
        ("payload.upper().split('-')", "a-b", ["A", "B"]),
        ("(1, 2)", None, [1, 2]),
    ],
)
def test_evaluates_expressions(harness: FlowHarness, source: str, payload: object, expected: object) -> None:
    assert evaluate(harness, source, payload, topic="room") == expected


def test_flow_and_global_getters(harness: FlowHarness) -> None:
    harness.deploy(expression("flow('limit', 0) + global('offset') + global_('offset') + flow('missing', 100)"))
    harness.node("e").context("flow").set("limit", 5)
    harness.node("e").context("global").set("offset", 1)
    harness.inject("e", payload=None)
    assert harness.one("out")["payload"] == 107


def test_context_getters_return_copies(harness: FlowHarness) -> None:
    harness.deploy(expression("flow('cfg')", property="cfg"))
    harness.node("e").context("flow").set("cfg", {"list": [1]})
    harness.inject("e", payload=None)
    got = harness.one("out")["cfg"]
    got["list"].append(2)
    assert harness.node("e").context("flow").get("cfg") == {"list": [1]}


def test_result_to_another_property_and_to_context(harness: FlowHarness) -> None:
    harness.deploy(expression("payload * 2", property="result.double"))
    harness.inject("e", payload=4)
    msg = harness.one("out")
    assert (msg["payload"], msg["result"]) == (4, {"double": 8})
    harness.deploy(expression("payload + 1", property="counter", propertyType="global"))
    harness.inject("e", payload=9)
    harness.one("out")
    assert harness.node("e").context("global").get("counter") == 10


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("payload +", "syntax error"),
        ("import os", "only one expression"),
        ("x = 1", "only one expression"),
        ("lambda: 1", "Lambda is not allowed"),
        ("().__class__", "'_' are not allowed"),
        ("msg.__class__.__bases__", "'_' are not allowed"),
        ("__import__('os').system('true')", "'_' are not allowed"),
        ("msg.get.__self__", "'_' are not allowed"),
        ("", "empty"),
        ("1 + " * 2000 + "1", "longer than"),
        ("open('/etc/passwd')", "unknown function 'open'"),
        ("eval('1')", "unknown function 'eval'"),
        ("getattr(msg, 'x')", "unknown function 'getattr'"),
        ("type(msg)", "unknown function 'type'"),
        ("len(range(10**9))", "unknown function 'range'"),
        ("len([[0]*1000000]*1000000)", "1,000,000,000,000 times in all"),
        ("sorted([[1]*3000]*3000)", "9,000,000 times in all"),
        ("'x' * 1000 * 1000 * 1000", "1,000,000,000 times in all"),
        ("[[0] * payload] * 3", "factor known only at run time"),
        ("('x' * payload) * payload", "factor known only at run time"),
        ("[" * 40 + "]" * 40, "nested more than 32 levels"),
    ],
)
def test_bad_expressions_are_rejected_at_deploy(harness: FlowHarness, source: str, reason: str) -> None:
    with pytest.raises(FlowConfigError) as info:
        harness.deploy(expression(source))
    problem = info.value.problems[0]
    assert (problem.node_id, problem.field) == ("e", "expression")
    assert reason in problem.message


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("'a' * 10**9", "longer than"),
        ("9**9**9", "too large"),
        ("2 ** 10**7", "too large"),
        ("1 << 10**9", "too large"),
        ("[1] * 10**8", "longer than"),
        ("('x' * 100000).join(['y'] * 100000)", "longer than"),
        ("'ab'.replace('', 'c' * 10**6)", "longer than"),
        ("'a'.ljust(10**9)", "longer than"),
        ("f'{1:>999999999}'", "format width"),
        ("'%999999999d' % 1", "not supported"),
        ("(1).to_bytes(10**9, 'big')", "no usable attribute"),
        ("msg.missing", "no key 'missing'"),
        ("1 / payload", "ZeroDivisionError"),
        ("sum([[1]] * 1000, [])", "numbers only"),
        ("round(1, -10**9)", "between -100 and 100"),
    ],
)
def test_run_time_failures_go_to_catch_and_runtime_keeps_running(
    harness: FlowHarness, source: str, reason: str
) -> None:
    harness.deploy(expression(source))
    harness.inject("e", payload=0 if "payload" in source else {"x": 1}, topic="kept")
    caught = harness.one("caught")
    assert reason in caught["error"]["message"]
    assert caught["topic"] == "kept"
    assert harness.nothing("out", within=0.05)
    harness.inject("side", payload=1)
    assert harness.one("alive")["ok"] == "yes"


def test_sandbox_escape_attempts_fail_cleanly() -> None:
    escapes = [
        "().__class__",
        "msg.__class__",
        "[c for c in ().__class__.__base__.__subclasses__()]",
        "str.__mro__",
        "msg.items.__func__",
        "flow.__globals__",
        "__builtins__",
        "import os",
        "__import__('os')",
        "[x for x in [1]].__class__",
        "payload.format_map",
        "'{0.__class__}'.format(1)",
    ]
    for source in escapes:
        with pytest.raises(ExpressionError):
            Sandbox(source).evaluate({"msg": {}, "payload": "x"}, {"flow": lambda k: None})


def test_operation_budget_and_time_limit_stop_long_evaluations() -> None:
    with pytest.raises(ExpressionError, match="exceeded 1000 operations"):
        Sandbox("[x + 1 for x in payload]", Limits(operations=1000)).evaluate({"payload": list(range(1000))})
    with pytest.raises(ExpressionError, match="too many elements"):
        Sandbox("[[y for y in payload] for x in payload]").evaluate({"payload": list(range(5000))})
    started = time.monotonic()
    with pytest.raises(ExpressionError, match="time limit"):
        Sandbox("[str(x) * 10 for x in payload]", Limits(seconds=0.0)).evaluate({"payload": [1, 2, 3]})
    assert time.monotonic() - started < 5  # a bound, not a speed target: it must not hang
