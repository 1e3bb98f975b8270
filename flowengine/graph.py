"""Checking a loaded flow set as a graph before anything starts.

Every problem is collected (unknown type, duplicate id, bad config field, wire
to a missing node, output port out of range, missing config-node reference, what
node types find with the graph as a whole) and raised together in one
:class:`FlowConfigError`; notes (problems of level "info") stay with the graph.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from pydantic import ValidationError

from flowengine.compat import unknown_type_hint
from flowengine.errors import FlowConfigError, Problem
from flowengine.flowfile import FlowSet, NodeSpec
from flowengine.node import Node, NodeConfig, NodeRef
from flowengine.registry import NodeTypeRegistry, UnknownNodeType


@dataclass
class Graph:
    """A validated flow set: node configs, classes and the wiring as a networkx graph."""

    flows: FlowSet
    configs: dict[str, NodeConfig] = field(default_factory=dict)
    classes: dict[str, type[Node]] = field(default_factory=dict)
    wiring: nx.MultiDiGraph = field(default_factory=nx.MultiDiGraph)
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
        return {u for u, _, d in self.wiring.in_edges(node_id, data=True) if d.get("kind") == "ref"}


def build_graph(flows: FlowSet, registry: NodeTypeRegistry, device: Any = None) -> Graph:
    """Validate ``flows`` (and, given ``device``, the config sections its nodes use).

    Raises :class:`FlowConfigError` listing every problem.
    """
    flows = flows.with_declared_inputs()
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
        raise FlowConfigError(problems)
    return graph


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
    try:
        graph.configs[spec.id] = cls.Config.model_validate(spec.properties)
        graph.classes[spec.id] = cls
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or None
            yield Problem(spec.file, spec.id, where, err["msg"])


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
                graph.wiring.add_edge(spec.id, target, port=port, kind="wire")


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
                graph.wiring.add_edge(spec.id, target, kind="ref")


def node_refs(config_cls: type[NodeConfig]) -> dict[str, NodeRef]:
    """Config fields marked with :class:`NodeRef`, by field name."""
    refs = {}
    for name, info in config_cls.model_fields.items():
        for meta in info.metadata:
            if isinstance(meta, NodeRef):
                refs[name] = meta
    return refs


def describe(graph: Graph) -> typing.Iterator[str]:
    """Text picture of the wiring: one line per node and per wire."""
    for node_id, data in sorted(graph.wiring.nodes(data=True), key=lambda n: (n[1]["file"], n[0])):
        label = f"{data['type']} {node_id}" + (f" ({data['name']})" if data["name"] else "")
        yield label
        for _, target, edge in sorted(
            graph.wiring.out_edges(node_id, data=True), key=lambda e: (e[2].get("port", -1), e[1])
        ):
            arrow = f"  [{edge['port']}] -> " if edge["kind"] == "wire" else "  uses "
            yield arrow + f"{graph.wiring.nodes[target]['type']} {target}"


def to_dot(graph: Graph) -> str:
    """Graphviz DOT of the wiring, one cluster per flow file; config references dashed."""
    lines = ["digraph flows {", "  rankdir=LR;", '  node [shape=box, style=rounded, fontname="Helvetica"];']
    by_file: dict[str, list[str]] = {}
    for node_id, data in graph.wiring.nodes(data=True):
        by_file.setdefault(data["file"], []).append(node_id)
    for index, (file, ids) in enumerate(sorted(by_file.items())):
        lines.append(f"  subgraph cluster_{index} {{\n    label={_quote(file)};")
        for node_id in sorted(ids):
            data = graph.wiring.nodes[node_id]
            label = data["type"] + (f"\\n{data['name']}" if data["name"] else "")
            lines.append(f"    {_quote(node_id)} [label={_quote(label)}];")
        lines.append("  }")
    for source, target, edge in sorted(graph.wiring.edges(data=True), key=lambda e: (e[0], e[1])):
        style = f' [label="{edge["port"]}"]' if edge["kind"] == "wire" else " [style=dashed]"
        lines.append(f"  {_quote(source)} -> {_quote(target)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\\\\n", "\\n") + '"'
