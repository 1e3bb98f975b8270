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
