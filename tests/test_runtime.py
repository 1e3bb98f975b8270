"""The runtime core: routing, fan-out isolation, errors to catch, status, context."""

from __future__ import annotations

import logging
import time

import pytest

from flowengine.message import Msg
from flowengine.node import Node
from flowengine.testing import FlowHarness


def inject(node_id: str, wires: list[list[str]], **props: object) -> dict[str, object]:
    return {"id": node_id, "type": "inject", "z": "t1", "wires": wires, **props}


def helper(node_id: str) -> dict[str, object]:
    return {"id": node_id, "type": "helper", "z": "t1", "wires": []}


def test_inject_once_reaches_helper(harness: FlowHarness) -> None:
    harness.deploy(
        [inject("i1", [["h1"]], once=True, onceDelay=0, payload="hello", payloadType="str", topic="t"), helper("h1")]
    )
    msg = harness.one("h1")
    assert msg["payload"] == "hello"
    assert msg["topic"] == "t"
    assert msg["_msgid"]


def test_messages_arrive_in_order(harness: FlowHarness) -> None:
    harness.deploy([helper("h1")])
    for i in range(500):
        harness.inject("h1", payload=i)
    assert [m["payload"] for m in harness.received("h1", 500)] == list(range(500))


def test_node_types_come_from_the_entry_point_group_by_name_or_table(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    import flowengine.plugins as plugins_module
    from flowengine.plugins import NODES_GROUP, node_packages, node_type_table
    from flowengine.registry import NodeTypeRegistry

    single = EntryPoint(name="acme sink", value="flowengine.testing:HelperNode", group=NODES_GROUP)
    table = EntryPoint(name="core", value="nodes.core:NODE_TYPES", group=NODES_GROUP)
    seen: list[str] = []

    def fake_entry_points(group: str) -> list[EntryPoint]:
        seen.append(group)
        return [single, table]

    monkeypatch.setattr(plugins_module, "entry_points", fake_entry_points)
    node_type_table.cache_clear()
    node_packages.cache_clear()
    try:
        registry = NodeTypeRegistry()
    finally:
        node_type_table.cache_clear()
        node_packages.cache_clear()
    assert seen == [NODES_GROUP]
    assert registry.get("acme sink").__name__ == "HelperNode"
    assert registry.get("switch").__name__ == "SwitchNode"
    assert "flexapi values" not in registry  # only what the entry points name


def test_an_exception_in_one_node_leaves_the_others_working(harness: FlowHarness) -> None:
    harness.deploy(
        [
            {"id": "bad", "type": "expression", "z": "t1", "expression": "payload / 0", "wires": [["h1"]]},
            {"id": "good", "type": "expression", "z": "t1", "expression": "payload + 1", "wires": [["h2"]]},
            helper("h1"),
            helper("h2"),
        ]
    )
    for i in range(3):
        harness.inject("bad", payload=i)
        harness.inject("good", payload=i)
    assert [m["payload"] for m in harness.received("h2", 3)] == [1, 2, 3]
    assert harness.nothing("h1")
    assert harness.node("bad").last_status["fill"] == "red"


class Sleeper(Node):
    """Blocks the event loop in synchronous code: what a custom node must not do."""

    def on_input(self, msg: Msg) -> None:
        time.sleep(0.3)
        self.send(msg)


def test_a_node_that_blocks_the_loop_is_named_in_the_log(
    harness: FlowHarness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.registry.register("sleeper", Sleeper)
    harness.deploy([{"id": "slow", "type": "sleeper", "wires": [["h1"]]}, helper("h1")])
    with caplog.at_level(logging.WARNING):
        harness.inject("slow", payload=1)
        harness.one("h1")
    assert "[sleeper:slow] handling a message blocked the event loop" in caplog.text
    assert harness.node("slow").blocked == 1  # type: ignore[attr-defined]
