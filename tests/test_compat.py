"""Coming from Node-RED: unknown types say what to use instead; the core node table is complete."""

from __future__ import annotations

import pytest

from flowengine.compat import NODE_RED_CORE, core_node_status, unknown_type_hint
from flowengine.errors import FlowConfigError
from flowengine.nodedoc import node_summary
from flowengine.registry import NodeTypeRegistry
from flowengine.testing import FlowHarness


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("swich", "did you mean 'switch'?"),
        ("http request", "not supported: flowengine talks MQTT"),
        ("exec", "write a node type in Python"),
        ("python-function", "use an `expression` node"),
        ("ui_gauge", "dashboard nodes are not supported"),
        ("qwertyuiop", "see `flowengine nodes`"),
    ],
)
def test_unknown_types_name_the_alternative(name: str, words: str) -> None:
    assert words in unknown_type_hint(name, NodeTypeRegistry())


def test_deploying_an_unknown_type_says_it(harness: FlowHarness) -> None:
    with pytest.raises(FlowConfigError) as info:
        harness.deploy([{"id": "h", "type": "http request", "z": "t", "wires": []}])
    assert "unknown node type 'http request': Node-RED's 'http request' is not supported" in str(info.value)


def test_every_core_node_has_a_status() -> None:
    registry = NodeTypeRegistry()
    status = dict(core_node_status(registry))
    assert list(status) == list(NODE_RED_CORE)
    for name in ("template", "rbe", "range", "split", "join", "sort", "batch", "csv", "junction", "complete"):
        assert status[name] == "supported"
    assert status["comment"] == "editor only (ignored)"
    assert all(status[name].startswith("not supported") for name in ("exec", "http in", "file", "xml"))


def test_flowengine_nodes_prints_the_table() -> None:
    text = node_summary()
    assert "Node-RED 4 core nodes, and what to use for those not supported here:" in text
    assert "websocket in" in text
