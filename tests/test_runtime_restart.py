"""``Runtime.restart``: rebuild and restart running nodes with their configuration, all or nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest

from flowengine.errors import FlowConfigError
from flowengine.message import Msg
from flowengine.node import Node, NodeConfig, NodeRef
from flowengine.registry import NodeTypeRegistry
from flowengine.testing import FlowHarness


class Disk:
    """What the test nodes read when they are built (the "state" a restart re-reads)."""

    value = "v1"
    fail_build = False
    fail_starts = 0  # starts that fail from now on


class Reader(Node[NodeConfig]):
    """Reads ``Disk.value`` when built and stamps it on every message."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        if Disk.fail_build:
            raise RuntimeError("state unreadable")
        self.seen = Disk.value
        self.deployed: list[set[str]] = []

    async def on_start(self) -> None:
        if Disk.fail_starts:
            Disk.fail_starts -= 1
            raise RuntimeError("cannot open")

    def on_input(self, msg: Msg) -> None:
        self.send({**msg, "payload": self.seen})

    def on_deployed(self, started: set[str]) -> None:
        self.deployed.append(started)


class UserConfig(NodeConfig):
    reader: Annotated[str, NodeRef("test reader")] = "r"


class User(Node[UserConfig]):
    """Refers to a reader (restarts with it)."""

    Config = UserConfig


@pytest.fixture
def h() -> Iterator[FlowHarness]:
    Disk.value, Disk.fail_build, Disk.fail_starts = "v1", False, 0
    registry = NodeTypeRegistry()
    registry.register("test reader", Reader)
    registry.register("test user", User)
    harness = FlowHarness(registry=registry)
    harness.deploy(
        [
            {"id": "r", "type": "test reader", "wires": [["out"]]},
            {"id": "u", "type": "test user", "reader": "r"},
            {"id": "other", "type": "test reader", "wires": [["out"]]},
            {"id": "out", "type": "helper"},
        ]
    )
    try:
        yield harness
    finally:
        harness.close()


def test_restart_rebuilds_the_nodes_and_their_users_and_keeps_the_wiring(h: FlowHarness) -> None:
    old_r, old_u, other = h.node("r"), h.node("u"), h.node("other")
    Disk.value = "v2"
    plan = h.call(h.runtime.restart(["r", "not-running"]))
    assert plan.changed == {"r", "u"}
    assert h.node("r") is not old_r and h.node("u") is not old_u and h.node("other") is other
    assert old_r.closed and old_u.closed
    h.inject("r", payload="x")
    assert h.one("out")["payload"] == "v2"
    assert other.deployed[-1] == {"r", "u"}  # every node hears which ones restarted


def test_a_node_that_cannot_be_built_leaves_everything_running(h: FlowHarness) -> None:
    old_r = h.node("r")
    Disk.fail_build = True
    with pytest.raises(FlowConfigError, match="node r: cannot be created"):
        h.call(h.runtime.restart(["r"]))
    assert h.node("r") is old_r and not old_r.closed


def test_a_node_that_cannot_start_brings_the_old_ones_back(h: FlowHarness) -> None:
    Disk.fail_starts = 1
    with pytest.raises(FlowConfigError, match="node r: failed to start"):
        h.call(h.runtime.restart(["r"]))
    assert not h.node("r").closed
    h.inject("r", payload="x")
    assert h.one("out")["payload"] == "v1"


def test_nothing_to_restart(h: FlowHarness) -> None:
    assert not h.call(h.runtime.restart([])).restarted
