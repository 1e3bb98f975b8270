"""Deploys are all or nothing: a node that cannot be built or started leaves the previous graph serving."""

from __future__ import annotations

from typing import Any

import pytest

from flowengine.errors import FlowConfigError
from flowengine.message import Msg
from flowengine.node import Node, NodeConfig
from flowengine.registry import NodeTypeRegistry
from flowengine.testing import FlowHarness


class FragileConfig(NodeConfig):
    fail_in: str = ""  # "constructor", "start" or ""
    tag: str = ""


class Fragile(Node[FragileConfig]):
    """Passes messages on with its tag; fails where told to."""

    Config = FragileConfig
    started = 0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        if self.config.fail_in == "constructor":
            raise RuntimeError("cannot build")

    async def on_start(self) -> None:
        if self.config.fail_in == "start":
            raise OSError("port busy")
        type(self).started += 1

    def on_input(self, msg: Msg) -> None:
        msg["tag"] = self.config.tag
        self.send(msg)


@pytest.fixture
def harness() -> Any:
    registry = NodeTypeRegistry()
    registry.register("fragile", Fragile)
    h = FlowHarness(registry=registry)
    yield h
    h.close()


def flow(tag: str, fail_in: str = "", extra: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    return [
        {"id": "in", "type": "fragile", "tag": "in", "wires": [["step"]]},
        {"id": "step", "type": "fragile", "tag": tag, "fail_in": fail_in, "wires": [["out"]]},
        {"id": "out", "type": "helper", "wires": []},
        *(extra or []),
    ]


def served_by(h: FlowHarness) -> str:
    h.inject("in", payload=1)
    return str(h.one("out")["tag"])


@pytest.mark.parametrize("fail_in", ["constructor", "start"])
def test_a_changed_node_that_fails_leaves_the_old_one_serving(harness: FlowHarness, fail_in: str) -> None:
    harness.deploy(flow("v1"))
    old = harness.node("step")
    with pytest.raises(FlowConfigError, match=r"node step: (cannot be created|failed to start)"):
        harness.deploy(flow("v2", fail_in))
    assert served_by(harness) == "v1"
    assert harness.node("step").config.tag == "v1"
    if fail_in == "constructor":
        assert harness.node("step") is old  # nothing running was touched
    harness.deploy(flow("v3"))
    assert served_by(harness) == "v3"


def test_an_added_node_that_fails_to_start_rolls_back_the_whole_deploy(harness: FlowHarness) -> None:
    harness.deploy(flow("v1"))
    broken = {"id": "more", "type": "fragile", "fail_in": "start", "wires": []}
    with pytest.raises(FlowConfigError, match="node more: failed to start: OSError: port busy"):
        harness.deploy(flow("v2", extra=[broken]))
    assert "more" not in harness.runtime.nodes
    assert served_by(harness) == "v1"
