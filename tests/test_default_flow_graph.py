"""The default flow is the agent's real data path: what ``flowengine graph`` draws is what runs."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest

from flowengine.flowfile import load_flows
from flowengine.graph import Graph, build_graph
from flowengine.registry import NodeTypeRegistry
from nodes.flexapi.groups import GROUPS
from nodes.flexapi.routes import parse_route
from nodes.sources.base import SourceNode

DEFAULT_FLOW = Path(__file__).resolve().parents[1] / "flows" / "default.json"


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_graph(load_flows([DEFAULT_FLOW]), NodeTypeRegistry())


def wires_only(graph: Graph) -> nx.DiGraph:
    """The wiring along which messages travel (references left out)."""
    return nx.DiGraph((e.source, e.target) for e in graph.wiring.edges() if e.kind == "wire")


def reserved_groups(graph: Graph) -> dict[str, str]:
    """Reserved group name -> id of the node that publishes it."""
    found = {spec.properties.get("group"): i for i, spec in graph.specs.items() if spec.type == "flexapi group"}
    found["userdata"] = next(i for i, s in graph.specs.items() if s.type == "flexapi userdata")
    return found


def test_every_source_reaches_every_reserved_group_that_publishes_its_keys(graph: Graph) -> None:
    wiring = wires_only(graph)
    groups = reserved_groups(graph)
    checked = 0
    for node_id, cls in graph.classes.items():
        if not issubclass(cls, SourceNode):
            continue
        for group in GROUPS.values():
            if set(cls.prefixes) & set(group.prefixes) and group.name in groups:
                assert nx.has_path(wiring, node_id, groups[group.name]), f"{node_id} -> {group.name}"
                checked += 1
    assert checked >= 10  # gnss, obd, io, motion each into their group and summary; cellular, 1-wire, sysinfo


def test_every_request_reaches_exactly_the_handler_its_route_names(graph: Graph) -> None:
    wiring = wires_only(graph)
    request = next(i for i, s in graph.specs.items() if s.type == "flexapi request")
    routes = graph.specs[request].properties["routes"]
    ports = graph.specs[request].wires
    assert len(ports) == len(routes) + 1  # one output per route, then the answers
    for route, targets in zip(routes, ports, strict=False):
        parse_route(route)
        assert len(targets) == 1, f"route {route!r} must lead to exactly one handler"
        handler = targets[0]
        assert nx.has_path(wiring, "flexapi-in", handler)
        assert request in graph.specs[handler].wires[0], f"{handler} answers back to {request}"
    assert graph.specs[ports[-1][0]].type == "flexapi out"


def test_references_are_edges_of_the_graph(graph: Graph) -> None:
    refs = {(e.source, e.target) for e in graph.wiring.edges() if e.kind == "ref"}
    assert ("flexapi-io-control", "source-io") in refs


def test_a_flow_can_tap_the_values_without_editing_the_default_flow(tmp_path: Path) -> None:
    tap = tmp_path / "tap.json"
    tap.write_text(json.dumps([{"id": "tap", "type": "debug", "wiredFrom": ["flexapi-values"], "wires": []}]))
    graph = build_graph(load_flows([DEFAULT_FLOW, tap]), NodeTypeRegistry())
    assert "tap" in graph.specs["flexapi-values"].wires[0]
    assert nx.has_path(wires_only(graph), "source-obd", "tap")
