"""switch: Node-RED's rule set with JavaScript comparisons, checkall, else and prev."""

from __future__ import annotations

import asyncio

import pytest

from flowengine.errors import FlowConfigError
from flowengine.runtime import Runtime
from flowengine.testing import FlowHarness


def switch(rules: list[dict[str, object]], **props: object) -> list[dict[str, object]]:
    outs = [f"o{i}" for i in range(len(rules))]
    return [
        {
            "id": "s",
            "type": "switch",
            "z": "t1",
            "rules": rules,
            "outputs": len(rules),
            "wires": [[o] for o in outs],
            **props,
        },
        *({"id": o, "type": "helper", "z": "t1", "wires": []} for o in outs),
    ]


async def settle(runtime: Runtime) -> None:
    """Return once every node's inbox is empty: all messages injected before have been handled."""
    quiet = 0
    while quiet < 2:
        await asyncio.sleep(0)
        quiet = quiet + 1 if all(n.pending == 0 for n in runtime.nodes.values()) else 0


def ports(harness: FlowHarness, count: int, payload: object, **fields: object) -> list[int]:
    """Which outputs a message with ``payload`` reaches."""
    harness.inject("s", payload=payload, **fields)
    harness.call(settle(harness.runtime))
    return [i for i in range(count) if not harness.nothing(f"o{i}", within=0)]


@pytest.mark.parametrize(
    ("rule", "payload", "matches"),
    [
        ({"t": "eq", "v": "5", "vt": "num"}, 5, True),
        ({"t": "eq", "v": "5", "vt": "num"}, "5", True),  # JavaScript ==
        ({"t": "eq", "v": "5", "vt": "str"}, 5, True),
        ({"t": "eq", "v": "a", "vt": "str"}, "b", False),
        ({"t": "neq", "v": "a", "vt": "str"}, "b", True),
        ({"t": "lt", "v": "10", "vt": "num"}, "9", True),
        ({"t": "lt", "v": "10", "vt": "num"}, "abc", False),
        ({"t": "lte", "v": "10"}, 10, True),  # vt guessed as num
        ({"t": "gt", "v": "b", "vt": "str"}, "c", True),  # strings compare as text
        ({"t": "gte", "v": "2", "vt": "num"}, 1, False),
        ({"t": "btwn", "v": "1", "vt": "num", "v2": "3", "v2t": "num"}, 2, True),
        ({"t": "btwn", "v": "3", "vt": "num", "v2": "1", "v2t": "num"}, 2, True),
        ({"t": "btwn", "v": "1", "vt": "num", "v2": "3", "v2t": "num"}, 4, False),
        ({"t": "cont", "v": "ell", "vt": "str"}, "hello", True),
        ({"t": "regex", "v": "^HE", "vt": "str", "case": True}, "hello", True),
        ({"t": "regex", "v": "^HE", "vt": "str", "case": False}, "hello", False),
        ({"t": "true"}, True, True),
        ({"t": "true"}, 1, False),
        ({"t": "false"}, False, True),
        ({"t": "null"}, None, True),
        ({"t": "nnull"}, 0, True),
        ({"t": "empty"}, "", True),
        ({"t": "empty"}, {}, True),
        ({"t": "empty"}, 0, False),
        ({"t": "nempty"}, [1], True),
        ({"t": "nempty"}, 0, False),
        ({"t": "istype", "v": "number", "vt": "number"}, 1.5, True),
        ({"t": "istype", "v": "string", "vt": "string"}, 1, False),
        ({"t": "istype", "v": "array", "vt": "array"}, [1], True),
        ({"t": "istype", "v": "object", "vt": "object"}, {"a": 1}, True),
        ({"t": "istype", "v": "boolean", "vt": "boolean"}, True, True),
        ({"t": "istype", "v": "json", "vt": "json"}, '{"a":1}', True),
        ({"t": "hask", "v": "a", "vt": "str"}, {"a": 1}, True),
    ],
)
def test_operators(harness: FlowHarness, rule: dict[str, object], payload: object, matches: bool) -> None:
    harness.deploy(switch([rule]))
    assert ports(harness, 1, payload) == ([0] if matches else [])


def test_checkall_sends_to_every_match_and_else_only_when_none(harness: FlowHarness) -> None:
    rules = [{"t": "gt", "v": "0", "vt": "num"}, {"t": "gt", "v": "10", "vt": "num"}, {"t": "else"}]
    harness.deploy(switch(rules, checkall="true"))
    assert ports(harness, 3, 20) == [0, 1]
    assert ports(harness, 3, 5) == [0]
    assert ports(harness, 3, -1) == [2]


def test_stop_after_first_match(harness: FlowHarness) -> None:
    rules = [{"t": "gt", "v": "0", "vt": "num"}, {"t": "gt", "v": "10", "vt": "num"}, {"t": "else"}]
    harness.deploy(switch(rules, checkall="false"))
    assert ports(harness, 3, 20) == [0]


def test_each_output_gets_its_own_copy(harness: FlowHarness) -> None:
    harness.deploy(switch([{"t": "nnull"}, {"t": "nnull"}]))
    harness.inject("s", payload={"n": 1})
    first, second = harness.one("o0"), harness.one("o1")
    assert first == second
    assert first is not second
    assert first["payload"] is not second["payload"]


def test_compare_with_msg_flow_and_prev(harness: FlowHarness) -> None:
    rules = [
        {"t": "eq", "v": "expected", "vt": "msg"},
        {"t": "gt", "v": "limit", "vt": "flow"},
        {"t": "neq", "v": "", "vt": "prev"},
    ]
    harness.deploy(switch(rules))
    harness.node("s").context("flow").set("limit", 100)
    assert ports(harness, 3, 150, expected=150) == [0, 1, 2]
    assert ports(harness, 3, 150, expected=1) == [1]  # not expected; not above prev


def test_property_from_other_msg_path_and_global(harness: FlowHarness) -> None:
    harness.deploy(switch([{"t": "eq", "v": "on", "vt": "str"}], property="mode", propertyType="global"))
    harness.node("s").context("global").set("mode", "on")
    assert ports(harness, 1, "anything") == [0]


def test_outputs_follow_the_rules() -> None:
    from nodes.core.switch import SwitchConfig, SwitchNode

    config = SwitchConfig.model_validate({"rules": [{"t": "true"}, {"t": "else"}], "outputs": 5})
    assert SwitchNode.output_count(config) == 2


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ([{"t": "bogus"}], "rules.0.t"),
        ([{"t": "head", "v": "1"}], "rules.0.t"),
        ([{"t": "regex", "v": "(", "vt": "str"}], "rules.0"),
        ([{"t": "eq", "v": "x", "vt": "num"}], "rules.0"),
        ([{"t": "eq", "v": "$.x +", "vt": "jsonata"}], "rules.0.v"),
    ],
)
def test_bad_rules_are_config_errors(harness: FlowHarness, rules: list[dict[str, object]], field: str) -> None:
    with pytest.raises(FlowConfigError) as info:
        harness.deploy(switch(rules))
    assert (info.value.problems[0].node_id, info.value.problems[0].field) == ("s", field)


def test_wire_beyond_rule_count_is_rejected(harness: FlowHarness) -> None:
    flow = switch([{"t": "true"}])
    flow[0]["wires"] = [["o0"], ["o0"]]
    with pytest.raises(FlowConfigError, match="out of range"):
        harness.deploy(flow)
