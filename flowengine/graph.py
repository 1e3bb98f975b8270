"""Checking a loaded flow set as a graph before anything starts.

Every problem is collected (unknown type, duplicate id, bad config field, wire
to a missing node, output port out of range, missing config-node reference, what
node types find with the graph as a whole) and raised together in one
:class:`FlowConfigError`; notes (problems of level "info") stay with the graph. The
wiring is kept in plain dicts: a deploy needs nothing more, and the agent does not pay
for networkx, which :meth:`Wiring.to_networkx` hands to the ``graph`` command and to tests.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from flowengine.compat import unknown_type_hint
from flowengine.errors import FlowConfigError, Problem
from flowengine.flowfile import EDITOR_PROPERTIES, FlowSet, NodeSpec
from flowengine.node import Node, NodeConfig, NodeRef
from flowengine.registry import NodeTypeRegistry, UnknownNodeType


@dataclass(frozen=True)
class Edge:
    """A wire (``kind`` "wire", from output ``port``) or a reference one node makes to another ("ref")."""

    source: str
    target: str
    kind: str
    port: int | None = None


class Wiring:
    """Nodes (with their type, name, file and flow) and the edges between them."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        self._out: dict[str, list[Edge]] = {}
        self._in: dict[str, list[Edge]] = {}

    def add_node(self, node_id: str, **attrs: Any) -> None:
        self.nodes[node_id] = attrs

    def add_edge(self, edge: Edge) -> None:
        self._out.setdefault(edge.source, []).append(edge)
        self._in.setdefault(edge.target, []).append(edge)

    def edges(self) -> list[Edge]:
        return [edge for edges in self._out.values() for edge in edges]

    def out_edges(self, node_id: str) -> list[Edge]:
        return list(self._out.get(node_id, ()))

    def in_edges(self, node_id: str) -> list[Edge]:
        return list(self._in.get(node_id, ()))

    def to_networkx(self) -> Any:
        """A ``networkx.MultiDiGraph`` of the same nodes and edges (for drawing and path checks)."""
        import networkx as nx

        graph = nx.MultiDiGraph()
        for node_id, attrs in self.nodes.items():
            graph.add_node(node_id, **attrs)
        for edge in self.edges():
            graph.add_edge(edge.source, edge.target, kind=edge.kind, port=edge.port)
        return graph


@dataclass
class Graph:
    """A validated flow set: node configs, classes and the wiring."""

    flows: FlowSet
    configs: dict[str, NodeConfig] = field(default_factory=dict)
    classes: dict[str, type[Node[Any]]] = field(default_factory=dict)
    wiring: Wiring = field(default_factory=Wiring)
    #: What node types noted about the graph without refusing it (``Problem.level == "info"``).
    notes: list[Problem] = field(default_factory=list)

    @property
    def specs(self) -> dict[str, NodeSpec]:
        return self.flows.nodes

    def active_ids(self) -> list[str]:
        """Ids of the nodes that run (not disabled), config nodes first."""
        ids = [i for i, s in self.specs.items() if not self.flows.is_disabled(s)]
        return sorted(ids, key=lambda i: self.classes[i].accepts_input)

    def dependents(self, node_id: str) -> set[str]:
        """Nodes that reference ``node_id`` as a config node (they restart with it)."""
        return {edge.source for edge in self.wiring.in_edges(node_id) if edge.kind == "ref"}


def build_graph(flows: FlowSet, registry: NodeTypeRegistry, device: Any = None) -> Graph:
    """Validate ``flows`` (and, given ``device``, the config sections its nodes use).

    Raises :class:`FlowConfigError` listing every problem.
    """
    flows = flows.with_subflows_expanded().with_declared_inputs()
    graph = Graph(flows)
    problems = list(flows.problems)
    for spec in flows.nodes.values():
        graph.wiring.add_node(spec.id, type=spec.type, name=spec.name, file=spec.file, z=spec.z)
        problems.extend(_configure(graph, spec, registry))
    for spec in flows.nodes.values():
        if spec.id in graph.configs:
            problems.extend(_check_wires(graph, spec))
            problems.extend(_check_refs(graph, spec))
            if device is not None and not flows.is_disabled(spec):
                problems.extend(graph.classes[spec.id].check_device(device, graph.configs[spec.id], spec.id))
    for found in _graph_checks(graph, device):
        (graph.notes if found.level == "info" else problems).append(found)
    if problems:
        raise FlowConfigError(in_flow_order(problems, flows))
    return graph


def in_flow_order(problems: list[Problem], flows: FlowSet) -> list[Problem]:
    """Problems by file (in load order), then by where their node stands in its file."""
    files = {name: n for n, name in enumerate(flows.files)}
    nodes = {node_id: n for n, node_id in enumerate(flows.nodes)}
    last = len(nodes)
    return sorted(problems, key=lambda p: (files.get(p.file, len(files)), p.file, nodes.get(p.node_id or "", last)))


def _graph_checks(graph: Graph, device: Any) -> Iterator[Problem]:
    """What each active node type finds with the whole graph (``Node.check_graph``)."""
    for node_id, spec in graph.specs.items():
        if node_id in graph.classes and not graph.flows.is_disabled(spec):
            yield from graph.classes[node_id].check_graph(graph, node_id, device)


def _configure(graph: Graph, spec: NodeSpec, registry: NodeTypeRegistry) -> Iterator[Problem]:
    try:
        cls = registry.get(spec.type)
    except UnknownNodeType:
        hint = unknown_type_hint(spec.type, registry)
        yield Problem(spec.file, spec.id, "type", f"unknown node type {spec.type!r}: {hint}")
        return
    except ImportError as exc:
        yield Problem(spec.file, spec.id, "type", f"node type {spec.type!r} cannot be loaded: {exc}")
        return
    yield from _unknown_properties(spec, cls)
    try:
        graph.configs[spec.id] = cls.Config.model_validate(spec.properties)
        graph.classes[spec.id] = cls
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or None
            yield Problem(spec.file, spec.id, where, err["msg"])


def _unknown_properties(spec: NodeSpec, cls: type[Node[Any]]) -> Iterator[Problem]:
    """A property the node type does not know is a problem (a typo like ``repaet`` must not pass silently)."""
    if cls.Config.model_config.get("extra") == "allow":
        return
    known = {name for field_name, info in cls.Config.model_fields.items() for name in (field_name, info.alias) if name}
    for key in spec.properties:
        if key in known or key in EDITOR_PROPERTIES:
            continue
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.7)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        yield Problem(spec.file, spec.id, key, f"unknown property of a {spec.type!r} node{hint}")


def _check_wires(graph: Graph, spec: NodeSpec) -> Iterator[Problem]:
    outputs = graph.classes[spec.id].output_count(graph.configs[spec.id])
    for port, targets in enumerate(spec.wires):
        if targets and port >= outputs:
            yield Problem(spec.file, spec.id, f"wires[{port}]", f"output port {port} out of range (node has {outputs})")
            continue
        for target in targets:
            if target not in graph.specs:
                yield Problem(spec.file, spec.id, f"wires[{port}]", f"wired to missing node {target!r}")
            elif target in graph.classes and not graph.classes[target].accepts_input:
                yield Problem(spec.file, spec.id, f"wires[{port}]", f"wired to {target!r}, which takes no input")
            else:
                graph.wiring.add_edge(Edge(spec.id, target, "wire", port))


def _check_refs(graph: Graph, spec: NodeSpec) -> Iterator[Problem]:
    config = graph.configs[spec.id]
    for name, ref in node_refs(type(config)).items():
        value = getattr(config, name)
        for target in (value or []) if ref.many else [value]:
            if not target:
                continue
            other = graph.specs.get(target)
            if other is None:
                yield Problem(spec.file, spec.id, name, f"refers to missing node {target!r}")
            elif ref.types and other.type not in ref.types:
                yield Problem(
                    spec.file,
                    spec.id,
                    name,
                    f"refers to {target!r} of type {other.type!r}, expected {' or '.join(ref.types)}",
                )
            else:
                graph.wiring.add_edge(Edge(spec.id, target, "ref"))


def node_refs(config_cls: type[NodeConfig]) -> dict[str, NodeRef]:
    """Config fields marked with :class:`NodeRef`, by field name."""
    refs = {}
    for name, info in config_cls.model_fields.items():
        for meta in info.metadata:
            if isinstance(meta, NodeRef):
                refs[name] = meta
    return refs
