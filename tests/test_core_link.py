"""link in / link out / link call, and fan-out isolation of branches."""

from __future__ import annotations

import pytest

from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness


def node(
    node_id: str, node_type: str, wires: list[list[str]] | None = None, z: str = "t1", **props: object
) -> dict[str, object]:
    return {"id": node_id, "type": node_type, "z": z, "wires": wires or [], **props}


def setter(node_id: str, path: str, value: str, wires: list[list[str]]) -> dict[str, object]:
    return node(node_id, "change", wires, rules=[{"t": "set", "p": path, "pt": "msg", "to": value, "tot": "str"}])


def test_fan_out_branches_never_see_each_others_changes(harness: FlowHarness) -> None:
    harness.deploy(
        [
            setter("start", "payload.origin", "start", [["left", "right"]]),
            setter("left", "payload.side", "left", [["left_out"]]),
            setter("right", "payload.side", "right", [["right_out"]]),
            node("left_out", "helper"),
            node("right_out", "helper"),
        ]
    )
    for _ in range(20):
        harness.inject("start", payload={"shared": [1]})
    lefts, rights = harness.received("left_out", 20), harness.received("right_out", 20)
    assert all(m["payload"] == {"shared": [1], "origin": "start", "side": "left"} for m in lefts)
    assert all(m["payload"] == {"shared": [1], "origin": "start", "side": "right"} for m in rights)
    assert all(a["payload"]["shared"] is not b["payload"]["shared"] for a, b in zip(lefts, rights, strict=True))


def test_link_out_reaches_link_in_on_another_tab(harness: FlowHarness) -> None:
    harness.deploy(
        [
            node("lo", "link out", links=["li"]),
            node("li", "link in", [["out"]], z="t2"),
            node("out", "helper", z="t2"),
        ]
    )
    harness.inject("lo", payload="across")
    assert harness.one("out")["payload"] == "across"


def test_link_in_naming_a_link_out_is_connected_too(harness: FlowHarness) -> None:
    harness.deploy(
        [
            node("lo", "link out", links=["a"]),
            node("a", "link in", [["mark_a"]]),
            node("b", "link in", [["mark_b"]], links=["lo"]),
            setter("mark_a", "payload.by", "a", [["out_a"]]),
            setter("mark_b", "payload.by", "b", [["out_b"]]),
            node("out_a", "helper"),
            node("out_b", "helper"),
        ]
    )
    harness.inject("lo", payload={})
    assert harness.one("out_a")["payload"] == {"by": "a"}
    assert harness.one("out_b")["payload"] == {"by": "b"}  # its own copy


def test_link_call_and_return(harness: FlowHarness) -> None:
    harness.deploy(
        [
            node("call", "link call", [["out"]], links=["sub"], timeout="5"),
            node("sub", "link in", [["work"]]),
            setter("work", "payload", "done", [["ret"]]),
            node("ret", "link out", mode="return"),
            node("out", "helper"),
        ]
    )
    harness.inject("call", payload="start", topic="t")
    msg = harness.one("out")
    assert msg["payload"] == "done"
    assert msg["topic"] == "t"
    assert "_linkSource" not in msg


def test_dynamic_link_call_by_name(harness: FlowHarness) -> None:
    harness.deploy(
        [
            node("call", "link call", [["out"]], linkType="dynamic", links=[]),
            {**node("sub", "link in", [["ret"]]), "name": "double"},
            node("ret", "link out", mode="return"),
            node("out", "helper"),
        ]
    )
    harness.inject("call", payload=2, target="double")
    assert harness.one("out")["payload"] == 2


def test_link_call_timeout_goes_to_catch(harness: FlowHarness) -> None:
    harness.deploy(
        [
            node("call", "link call", [["out"]], links=["sub"], timeout=0.1),
            node("sub", "link in", [[]]),
            node("c", "catch", [["caught"]], scope=["call"]),
            node("out", "helper"),
            node("caught", "helper"),
        ]
    )
    harness.inject("call", payload="lost")
    caught = harness.one("caught")
    assert caught["error"]["message"] == "timeout"
    assert caught["payload"] == "lost"


def test_return_without_a_caller_is_a_warning_not_an_error(fake: FlowHarness, caplog: pytest.LogCaptureFixture) -> None:
    """Node-RED warns and drops the message; catch nodes see nothing."""
    fake.deploy([node("ret", "link out", mode="return"), node("c", "catch", [["caught"]]), node("caught", "helper")])
    fake.inject("ret", payload=1)
    assert fake.taken("caught") == []
    assert "no link call node to return the message to" in caplog.text


def test_link_call_errors_use_node_reds_words(fake: FlowHarness) -> None:
    fake.deploy(
        [
            node("call", "link call", [["out"]], linkType="dynamic"),
            node("a", "link in", [["out"]], name="twin"),
            node("b", "link in", [["out"]], z="t2", name="twin"),
            node("c", "catch", [["caught"]]),
            node("out", "helper"),
            node("caught", "helper"),
        ]
    )
    fake.inject("call", payload=1, target="nobody")
    fake.inject("call", payload=2, target="twin")  # one of that name in this flow: found
    fake.inject("call", payload=3, target="b")  # by id, in another flow
    errors = [m["error"]["message"] for m in fake.taken("caught")]
    assert errors == ["target link-in node 'nobody' not found"]
    assert [m["payload"] for m in fake.taken("out")] == [2, 3]


@pytest.mark.parametrize(
    "flow",
    [
        [node("lo", "link out", links=["nowhere"])],
        [node("lo", "link out", links=["h"]), node("h", "helper")],
        [node("lo", "link out", [["h"]], links=[]), node("h", "helper")],
    ],
)
def test_bad_links_are_config_errors(harness: FlowHarness, flow: list[dict[str, object]]) -> None:
    with pytest.raises(FlowConfigError) as info:
        harness.deploy(flow)
    assert info.value.problems[0].node_id == "lo"
