"""The runtime core: routing, fan-out isolation, errors to catch, status, context."""

from __future__ import annotations

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


def test_plugin_node_types_come_from_the_entry_point_group(monkeypatch: object) -> None:
    from importlib.metadata import EntryPoint

    import flowengine.registry as registry_module
    from flowengine.registry import ENTRY_POINT_GROUP, NodeTypeRegistry

    plugin = EntryPoint(name="acme sink", value="flowengine.testing:HelperNode", group=ENTRY_POINT_GROUP)
    seen: list[str] = []

    def fake_entry_points(group: str) -> list[EntryPoint]:
        seen.append(group)
        return [plugin]

    monkeypatch.setattr(registry_module, "entry_points", fake_entry_points)  # type: ignore[attr-defined]
    registry = NodeTypeRegistry()
    assert seen == [ENTRY_POINT_GROUP]
    assert "acme sink" in registry
    assert registry.get("acme sink").__name__ == "HelperNode"


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
