"""change: set / change / delete / move on msg, flow and global, with Node-RED's rule shapes."""

from __future__ import annotations

import pytest

from flowengine.errors import FlowConfigError
from flowengine.message import make_msg
from flowengine.testing import FlowHarness


def change(rules: list[dict[str, object]], node_id: str = "c", **props: object) -> list[dict[str, object]]:
    return [
        {"id": node_id, "type": "change", "z": "t1", "rules": rules, "wires": [["out"]], **props},
        {"id": "out", "type": "helper", "z": "t1", "wires": []},
    ]


def run(harness: FlowHarness, rules: list[dict[str, object]], **fields: object) -> dict[str, object]:
    harness.deploy(change(rules))
    harness.inject("c", make_msg(**fields))
    return harness.one("out")


def test_set_typed_values(harness: FlowHarness) -> None:
    rules = [
        {"t": "set", "p": "payload", "pt": "msg", "to": "12.5", "tot": "num"},
        {"t": "set", "p": "a.b[1]", "pt": "msg", "to": '{"k":true}', "tot": "json"},
        {"t": "set", "p": "flag", "pt": "msg", "to": "TRUE", "tot": "bool"},
        {"t": "set", "p": "copy", "pt": "msg", "to": "topic", "tot": "msg"},
    ]
    msg = run(harness, rules, payload="x", topic="t")
    assert msg["payload"] == 12.5
    assert msg["a"] == {"b": [None, {"k": True}]}
    assert msg["flag"] is True
    assert msg["copy"] == "t"


def test_set_from_missing_msg_property_deletes_target(harness: FlowHarness) -> None:
    msg = run(harness, [{"t": "set", "p": "payload", "pt": "msg", "to": "nothing.here", "tot": "msg"}], payload=1)
    assert "payload" not in msg


def test_legacy_to_msg_prefix_is_migrated(harness: FlowHarness) -> None:
    msg = run(harness, [{"t": "set", "p": "payload", "to": "msg.topic"}], payload=1, topic="t")
    assert msg["payload"] == "t"


def test_set_and_read_flow_and_global_context(harness: FlowHarness) -> None:
    rules = [
        {"t": "set", "p": "last", "pt": "flow", "to": "payload", "tot": "msg"},
        {"t": "set", "p": "#:(file)::site", "pt": "global", "to": "north", "tot": "str"},
        {"t": "set", "p": "site", "pt": "msg", "to": "site", "tot": "global"},
    ]
    msg = run(harness, rules, payload={"v": 1})
    assert msg["site"] == "north"
    node = harness.node("c")
    assert node.context("flow").get("last") == {"v": 1}
    assert node.context("global").get("site") == "north"


def test_context_holds_a_copy_not_the_message_object(harness: FlowHarness) -> None:
    rules = [
        {"t": "set", "p": "saved", "pt": "flow", "to": "payload", "tot": "msg"},
        {"t": "set", "p": "payload.v", "pt": "msg", "to": "2", "tot": "num"},
    ]
    run(harness, rules, payload={"v": 1})
    assert harness.node("c").context("flow").get("saved") == {"v": 1}


def test_change_substring_and_regex_with_groups(harness: FlowHarness) -> None:
    rules = [
        {"t": "change", "p": "payload", "pt": "msg", "from": "cat", "fromt": "str", "to": "dog", "tot": "str"},
        {"t": "change", "p": "topic", "pt": "msg", "from": "(\\w+)/(\\w+)", "fromt": "re", "to": "$2.$1", "tot": "str"},
    ]
    msg = run(harness, rules, payload="cat and cat.", topic="a/b")
    assert msg["payload"] == "dog and dog."
    assert msg["topic"] == "b.a"


def test_change_whole_value_keeps_type_of_replacement(harness: FlowHarness) -> None:
    rules = [
        {"t": "change", "p": "payload", "pt": "msg", "from": "on", "fromt": "str", "to": "true", "tot": "bool"},
        {"t": "change", "p": "n", "pt": "msg", "from": "5", "fromt": "num", "to": "five", "tot": "str"},
        {"t": "change", "p": "m", "pt": "msg", "from": "5", "fromt": "num", "to": "x", "tot": "str"},
    ]
    msg = run(harness, rules, payload="on", n=5, m=6)
    assert msg["payload"] is True
    assert msg["n"] == "five"
    assert msg["m"] == 6


def test_change_in_flow_context(harness: FlowHarness) -> None:
    harness.deploy(change([{"t": "change", "p": "mode", "pt": "flow", "from": "old", "fromt": "str", "to": "new"}]))
    harness.node("c").context("flow").set("mode", "old-style")
    harness.inject("c", make_msg())
    harness.one("out")
    assert harness.node("c").context("flow").get("mode") == "new-style"


def test_delete_msg_and_context(harness: FlowHarness) -> None:
    harness.deploy(
        change([{"t": "delete", "p": "payload.secret", "pt": "msg"}, {"t": "delete", "p": "k", "pt": "global"}])
    )
    harness.node("c").context("global").set("k", 1)
    harness.inject("c", make_msg(payload={"secret": 1, "keep": 2}))
    assert harness.one("out")["payload"] == {"keep": 2}
    assert harness.node("c").context("global").get("k") is None


def test_move_between_msg_properties_and_into_a_child(harness: FlowHarness) -> None:
    rules = [
        {"t": "move", "p": "topic", "pt": "msg", "to": "subject", "tot": "msg"},
        {"t": "move", "p": "payload", "pt": "msg", "to": "payload.inner", "tot": "msg"},
    ]
    msg = run(harness, rules, payload=3, topic="t")
    assert "topic" not in msg
    assert msg["subject"] == "t"
    assert msg["payload"] == {"inner": 3}


def test_move_to_flow_context(harness: FlowHarness) -> None:
    msg = run(harness, [{"t": "move", "p": "payload", "pt": "msg", "to": "stash", "tot": "flow"}], payload=[1, 2])
    assert "payload" not in msg
    assert harness.node("c").context("flow").get("stash") == [1, 2]


def test_legacy_single_rule_form(harness: FlowHarness) -> None:
    harness.deploy(
        [
            {
                "id": "c",
                "type": "change",
                "z": "t1",
                "action": "replace",
                "property": "payload",
                "to": "hello",
                "wires": [["out"]],
            },
            {"id": "out", "type": "helper", "z": "t1", "wires": []},
        ]
    )
    harness.inject("c", make_msg(payload=1))
    assert harness.one("out")["payload"] == "hello"


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"t": "set", "p": "payload", "to": "{", "tot": "json"}, "rules.0"),
        ({"t": "change", "p": "payload", "from": "(", "fromt": "re", "to": ""}, "rules.0"),
        ({"t": "set", "p": "payload", "to": "payload +", "tot": "jsonata"}, "rules.0.to"),
        ({"t": "set", "p": "payload", "to": "$moment()", "tot": "jsonata"}, "rules.0.to"),
        ({"t": "rename", "p": "payload"}, "rules.0.t"),
        ({"t": "set", "p": "payload", "pt": "node", "to": "1"}, "rules.0.pt"),
    ],
)
def test_bad_rules_are_config_errors(harness: FlowHarness, rule: dict[str, object], field: str) -> None:
    with pytest.raises(FlowConfigError) as info:
        harness.deploy(change([rule]))
    assert (info.value.problems[0].node_id, info.value.problems[0].field) == ("c", field)
