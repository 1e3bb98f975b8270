"""junction: a real pass-through node (Node-RED exports it as a node with wires)."""

from __future__ import annotations

from flowengine.testing import FlowHarness


def test_junction_fans_in_and_out(fake: FlowHarness) -> None:
    fake.deploy(
        [
            {"id": "a", "type": "junction", "z": "t", "x": 10, "y": 10, "wires": [["j"]]},
            {"id": "b", "type": "junction", "z": "t", "x": 10, "y": 30, "wires": [["j"]]},
            {"id": "j", "type": "junction", "z": "t", "x": 50, "y": 20, "wires": [["left", "right"]]},
            {"id": "left", "type": "helper", "z": "t"},
            {"id": "right", "type": "helper", "z": "t"},
        ]
    )
    fake.inject("a", payload={"from": "a"})
    fake.inject("b", payload={"from": "b"})
    left, right = fake.taken("left"), fake.taken("right")
    assert [m["payload"] for m in left] == [{"from": "a"}, {"from": "b"}] == [m["payload"] for m in right]
    assert left[0]["payload"] is not right[0]["payload"]  # each branch gets its own copy
