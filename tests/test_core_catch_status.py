"""catch and status: scoped, flow-wide and uncaught routing; error loops bounded; runtime keeps going."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness, wait_until


def node(
    node_id: str, node_type: str, wires: list[list[str]] | None = None, z: str = "t1", **props: object
) -> dict[str, object]:
    return {"id": node_id, "type": node_type, "z": z, "wires": wires or [], **props}


def failing(node_id: str, z: str = "t1") -> dict[str, object]:
    """A json node: text that is not JSON makes it fail."""
    return node(node_id, "json", [["ok"]] if z == "t1" else [], z=z)


def helpers(*ids: str) -> list[dict[str, object]]:
    return [node(i, "helper") for i in ids]


def test_scoped_catch_only_sees_its_nodes(harness: FlowHarness) -> None:
    harness.deploy(
        [failing("j1"), failing("j2"), node("c", "catch", [["caught"]], scope=["j1"]), *helpers("ok", "caught")]
    )
    harness.inject("j2", payload="{bad")
    harness.inject("j1", payload="{bad", topic="from-j1")
    caught = harness.one("caught")
    assert caught["topic"] == "from-j1"
    assert caught["error"]["source"]["id"] == "j1"
    assert harness.nothing("caught")


def test_scoped_and_flow_wide_both_receive_and_other_tabs_do_not(harness: FlowHarness) -> None:
    harness.deploy(
        [
            failing("j1"),
            node("scoped", "catch", [["a"]], scope=["j1"]),
            node("wide", "catch", [["b"]]),
            node("elsewhere", "catch", [["c"]], z="t2"),
            *helpers("ok", "a", "b", "c"),
        ]
    )
    harness.inject("j1", payload="{bad")
    assert harness.one("a")["error"]["source"]["id"] == "j1"
    assert harness.one("b")["error"]["source"]["id"] == "j1"
    assert harness.nothing("c")


def test_uncaught_catch_only_when_nobody_else_catches(harness: FlowHarness) -> None:
    harness.deploy(
        [
            failing("j1"),
            failing("j2"),
            node("scoped", "catch", [["a"]], scope=["j1"]),
            node("rest", "catch", [["u"]], uncaught=True),
            *helpers("ok", "a", "u"),
        ]
    )
    harness.inject("j1", payload="{bad")
    assert harness.one("a")["error"]["source"]["id"] == "j1"
    assert harness.nothing("u")
    harness.inject("j2", payload="{bad")
    assert harness.one("u")["error"]["source"]["id"] == "j2"


def test_failing_node_keeps_working_and_others_are_unaffected(harness: FlowHarness) -> None:
    harness.deploy(
        [
            failing("j1"),
            node("side", "change", [["side_out"]], rules=[{"t": "set", "p": "seen", "to": "yes"}]),
            node("c", "catch", [["caught"]]),
            *helpers("ok", "caught", "side_out"),
        ]
    )
    for i in range(5):
        harness.inject("j1", payload="{bad")
        harness.inject("j1", payload=f"[{i}]")
        harness.inject("side", payload=i)
    assert [m["payload"] for m in harness.received("ok", 5)] == [[i] for i in range(5)]
    assert len(harness.received("caught", 5)) == 5
    assert [m["seen"] for m in harness.received("side_out", 5)] == ["yes"] * 5


def test_error_loop_through_catch_is_bounded(harness: FlowHarness) -> None:
    # the catch node feeds the failing node again: every error makes another error
    harness.deploy(
        [
            node("j1", "json", [[]]),
            node("c", "catch", [["j1", "seen"]], scope=["j1"]),
            node("after", "change", [["alive"]], rules=[{"t": "set", "p": "payload", "to": "ok"}]),
            *helpers("seen", "alive"),
        ]
    )
    harness.inject("j1", payload="{bad")
    counts = [m["error"]["source"]["count"] for m in harness.received("seen", 10)]
    assert counts == list(range(1, 11))
    assert harness.nothing("seen")
    harness.inject("after", payload=1)
    assert harness.one("alive")["payload"] == "ok"


def test_catch_takes_no_input(harness: FlowHarness) -> None:
    with pytest.raises(FlowConfigError, match="takes no input"):
        harness.deploy([node("x", "change", [["c"]]), node("c", "catch")])


def test_catch_scope_must_name_existing_nodes(harness: FlowHarness) -> None:
    with pytest.raises(FlowConfigError) as info:
        harness.deploy([node("c", "catch", scope=["missing"])])
    assert (info.value.problems[0].node_id, info.value.problems[0].field) == ("c", "scope")


def test_status_reaches_scoped_and_flow_wide_status_nodes(harness: FlowHarness) -> None:
    harness.deploy(
        [
            node("d", "delay", [["ok"]], pauseType="delay", timeout="2", timeoutUnits="seconds"),
            node("scoped", "status", [["a"]], scope=["d"]),
            node("wide", "status", [["b"]]),
            node("other", "status", [["c"]], z="t2"),
            *helpers("ok", "a", "b", "c"),
        ]
    )
    harness.inject("d", payload=1)
    status = harness.one("a")["status"]
    assert status["source"] == {"id": "d", "type": "delay", "name": ""}
    assert status["text"] == "1"
    assert harness.one("b")["status"]["text"] == "1"
    assert harness.nothing("c")


def test_error_sets_status_of_the_failing_node(harness: FlowHarness) -> None:
    harness.deploy([failing("j1"), node("st", "status", [["s"]], scope=["j1"]), *helpers("ok", "s")])
    harness.inject("j1", payload="{bad")
    status = harness.one("s")["status"]
    assert status["fill"] == "red"
    assert "not valid JSON" in status["text"]


def test_status_node_ignores_nodes_it_is_wired_to(harness: FlowHarness) -> None:
    # were the status node to watch d, each status of d would feed d again and count up for ever
    harness.deploy(
        [
            node("st", "status", [["d", "s"]], scope=["d"]),
            node("d", "debug", tostatus=True, statusType="counter"),
            *helpers("s"),
        ]
    )
    for i in range(3):
        harness.inject("d", payload=i)
    wait_until(lambda: harness.node("d").count >= 3, what="three messages at debug")
    assert harness.nothing("s")
    assert harness.node("d").count == 3


def test_flow_and_global_context_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    flow = [
        node("c", "change", [["ok"]], rules=[
            {"t": "set", "p": "visits", "pt": "flow", "to": "payload", "tot": "msg"},
            {"t": "set", "p": "site", "pt": "global", "to": "north"},
        ]),
        node("read", "change", [["ok"]], rules=[
            {"t": "set", "p": "visits", "to": "visits", "tot": "flow"},
            {"t": "set", "p": "site", "to": "site", "tot": "global"},
        ]),
        *helpers("ok"),
    ]  # fmt: skip
    with FlowHarness(state_dir=state) as first:
        first.deploy(flow)
        first.inject("c", payload={"n": 3})
        first.one("ok")
    assert (state / "context.json").exists()
    with FlowHarness(state_dir=state) as second:
        second.deploy(flow)
        second.inject("read", payload=None)
        msg = second.one("ok")
    assert msg["visits"] == {"n": 3}
    assert msg["site"] == "north"
