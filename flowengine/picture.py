"""Pictures of a validated graph: text for a terminal, Graphviz DOT for a drawing.

Both follow the flows as their files lay them out: one section (or cluster) per
flow (tab), in file order; inside it, nodes in the order messages reach them,
starting from the nodes nothing is wired into. Wires are solid; references a node
makes to another (a broker, a source it drives, the node a hook serves) are dashed,
and labelled ``uses``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flowengine.graph import Edge, Graph

NO_FLOW = ""


def describe(graph: Graph) -> Iterator[str]:
    """Text picture: a heading per flow, then each node with its wires and references."""
    for flow_id, nodes in flows_in_order(graph):
        yield _flow_heading(graph, flow_id)
        for node_id in nodes:
            yield f"  {_label(graph, node_id)}"
            for edge in _edges_in_order(graph, node_id):
                yield f"      {_arrow(graph, node_id, edge)} {_label(graph, edge.target)}"


def to_dot(graph: Graph) -> str:
    """Graphviz DOT: a cluster per flow, nodes labelled name and type, references dashed."""
    lines = [
        "digraph flows {",
        "  rankdir=LR;",
        '  node [shape=box, style=rounded, fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for index, (flow_id, nodes) in enumerate(flows_in_order(graph)):
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f"    label={_quote(_flow_title(graph, flow_id))};")
        for node_id in nodes:
            attrs = graph.wiring.nodes[node_id]
            text = f"{attrs['name']}\\n{attrs['type']}" if attrs["name"] else attrs["type"]
            lines.append(f"    {_quote(node_id)} [label={_quote(text)}];")
        lines.append("  }")
    for edge in graph.wiring.edges():
        lines.append(f"  {_quote(edge.source)} -> {_quote(edge.target)}{_dot_style(graph, edge)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def flows_in_order(graph: Graph) -> list[tuple[str, list[str]]]:
    """(flow id, its node ids in wiring order), flows as the files list them; nodes outside any flow last."""
    by_flow: dict[str, list[str]] = {}
    for node_id, attrs in graph.wiring.nodes.items():
        by_flow.setdefault(attrs["z"] if attrs["z"] in graph.flows.tabs else NO_FLOW, []).append(node_id)
    order = [z for z in graph.flows.tabs if z in by_flow] + ([NO_FLOW] if NO_FLOW in by_flow else [])
    return [(z, _wiring_order(graph, by_flow[z])) for z in order]


def _wiring_order(graph: Graph, members: list[str]) -> list[str]:
    """Depth first from the nodes nothing in the flow is wired into (in file order), then the rest."""
    inside = set(members)
    fed = {e.target for m in members for e in graph.wiring.out_edges(m) if e.kind == "wire" and e.target in inside}
    seen: dict[str, None] = {}
    for start in [m for m in members if m not in fed] + members:
        stack = [start]
        while stack:
            node_id = stack.pop()
            if node_id in seen:
                continue
            seen[node_id] = None
            nexts = [e.target for e in _edges_in_order(graph, node_id) if e.kind == "wire" and e.target in inside]
            stack.extend(reversed(nexts))
    return list(seen)


def _edges_in_order(graph: Graph, node_id: str) -> list[Edge]:
    return sorted(graph.wiring.out_edges(node_id), key=lambda e: (e.kind != "wire", e.port or 0))


def _label(graph: Graph, node_id: str) -> str:
    attrs = graph.wiring.nodes[node_id]
    name = f' "{attrs["name"]}"' if attrs["name"] else ""
    return f"{attrs['type']}{name} [{node_id}]"


def _arrow(graph: Graph, node_id: str, edge: Edge) -> str:
    if edge.kind != "wire":
        return "uses"
    ports = graph.classes[node_id].output_count(graph.configs[node_id]) if node_id in graph.classes else 1
    return f"[{edge.port}] ->" if ports > 1 else "->"


def _flow_heading(graph: Graph, flow_id: str) -> str:
    if flow_id == NO_FLOW:
        return "(outside any flow)"
    files = sorted({a["file"] for a in graph.wiring.nodes.values() if a["z"] == flow_id})
    return f"flow {_flow_title(graph, flow_id)} [{flow_id}] in {', '.join(files)}"


def _flow_title(graph: Graph, flow_id: str) -> str:
    tab: dict[str, Any] = dict(graph.flows.tabs.get(flow_id, {}))
    return str(tab.get("label") or flow_id or "outside any flow")


def _dot_style(graph: Graph, edge: Edge) -> str:
    if edge.kind != "wire":
        return ' [style=dashed, label="uses"]'
    source = edge.source
    ports = graph.classes[source].output_count(graph.configs[source]) if source in graph.classes else 1
    return f' [label="{edge.port}"]' if ports > 1 else ""


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\\\\n", "\\n") + '"'
