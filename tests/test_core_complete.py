"""complete: a message for each one a watched node finished handling."""

from __future__ import annotations

from typing import Any

from flowengine.testing import FlowHarness


def node(node_id: str, node_type: str, wires: list[list[str]] | None = None, **props: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "z": "t1", "name": "", "wires": wires or [], **props}


def test_fires_after_the_watched_node_with_its_message(fake: FlowHarness) -> None:
    fake.deploy(
        [
            node("set", "change", [["out"]], name="tag", rules=[{"t": "set", "p": "tagged", "to": "yes"}]),
            node("done", "complete", [["after"]], scope=["set"]),
            node("out", "helper"),
            node("after", "helper"),
        ]
    )
    fake.inject("set", payload=1)
    msg = fake.taken("after")[0]
    assert (msg["payload"], msg["tagged"]) == (1, "yes")
    assert msg["complete"] == {"source": {"id": "set", "type": "change", "name": "tag"}}
    assert "complete" not in fake.taken("out")[0]


def test_not_on_error_not_for_other_flows_not_for_switch(fake: FlowHarness) -> None:
    fake.deploy(
        [
            node("parse", "json", [["sw"]]),
            node("sw", "switch", [["out"]], rules=[{"t": "nnull"}]),
            node("done", "complete", [["after"]], scope=["parse", "sw", "far"]),
            {**node("far", "json"), "z": "t2"},
            node("out", "helper"),
            node("after", "helper"),
        ]
    )
    fake.inject("parse", payload="{bad")
    fake.inject("far", payload="{}")
    fake.inject("parse", payload="[1]")
    assert [m["payload"] for m in fake.taken("after")] == [[1]]  # only the good parse: switch never reports done


def test_nodes_it_is_wired_to_are_left_out(fake: FlowHarness) -> None:
    fake.deploy(
        [
            node("done", "complete", [["loop"]], scope=["loop"]),
            node("loop", "change", [["out"]], rules=[{"t": "set", "p": "seen", "to": "1"}]),
            node("out", "helper"),
        ]
    )
    fake.inject("loop", payload=1)
    assert len(fake.taken("out")) == 1
