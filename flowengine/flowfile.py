"""Reading Node-RED-shaped flow files into node specs, with every problem collected."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from flowengine.errors import Problem
from flowengine.subflows import SUBFLOW, Definition
from flowengine.subflows import expand as expand_subflows

#: Node-RED object types that describe the editor, not running nodes.
LAYOUT_TYPES = frozenset({"tab", "comment", "group"})
_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: A flowengine extension: a node may declare the nodes that feed it, so a flow file (or code that
#: generates nodes) can tap or join a node defined in another file without editing that file.
WIRED_FROM = "wiredFrom"
_ENGINE_KEYS = frozenset({"id", "type", "name", "z", "d", "x", "y", "g", "w", "h", "wires", WIRED_FROM})
#: What Node-RED's editor stores on any node (notes, label display, icons, port labels): no behaviour.
EDITOR_PROPERTIES = frozenset({"info", "l", "icon", "inputLabels", "outputLabels", "color", "paletteLabel"})


@dataclass(frozen=True)
class NodeSpec:
    """One node object of a flow file, as loaded (``${VAR}`` already substituted)."""

    id: str
    type: str
    file: str
    raw: Mapping[str, Any]
    wires: tuple[tuple[str, ...], ...] = ()

    @property
    def name(self) -> str:
        return str(self.raw.get("name") or "")

    @property
    def z(self) -> str:
        """The flow (tab) the node belongs to; "" for nodes outside any tab."""
        return str(self.raw.get("z") or "")

    @property
    def properties(self) -> dict[str, Any]:
        """The type's own properties, without the engine's layout keys."""
        return {k: v for k, v in self.raw.items() if k not in _ENGINE_KEYS}

    def same_config(self, other: NodeSpec) -> bool:
        """True when only wiring or editor position differ (no restart needed)."""
        return (self.type, self.z, self.name, self.properties, self.raw.get("d")) == (
            other.type,
            other.z,
            other.name,
            other.properties,
            other.raw.get("d"),
        )


@dataclass
class FlowSet:
    """Everything loaded from a set of flow files."""

    nodes: dict[str, NodeSpec] = field(default_factory=dict)
    tabs: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    subflows: dict[str, Definition] = field(default_factory=dict)

    def is_disabled(self, spec: NodeSpec) -> bool:
        tab = self.tabs.get(spec.z, {})
        return bool(spec.raw.get("d")) or bool(tab.get("disabled"))

    def with_subflows_expanded(self) -> FlowSet:
        """This set with every subflow instance replaced by its own nodes (see :mod:`flowengine.subflows`)."""
        if not self.subflows and not any(s.type.startswith("subflow:") for s in self.nodes.values()):
            return self
        definitions = {i: Definition(d.raw, d.file) for i, d in self.subflows.items()}
        for spec in self.nodes.values():
            if spec.z in definitions:
                definitions[spec.z].templates.append(dict(spec.raw))
        problems = list(self.problems)
        nodes, flows = expand_subflows(self.nodes, definitions, problems)
        return FlowSet(nodes, {**self.tabs, **flows}, list(self.files), problems, {})

    def with_declared_inputs(self) -> FlowSet:
        """This set with every ``wiredFrom`` turned into a wire on the feeding node (problems collected).

        An entry is a node id (its output 0) or ``[id, port]``.
        """
        resolved = FlowSet(
            dict(self.nodes), dict(self.tabs), list(self.files), list(self.problems), dict(self.subflows)
        )
        for spec in self.nodes.values():
            for source, port in _declared_inputs(spec, resolved):
                feeder = resolved.nodes[source]
                ports = [list(p) for p in feeder.wires] + [[] for _ in range(port + 1 - len(feeder.wires))]
                if spec.id not in ports[port]:
                    ports[port].append(spec.id)
                resolved.nodes[source] = replace(feeder, wires=tuple(tuple(p) for p in ports))
        return resolved


def flow_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand directories to their ``*.json`` files (sorted); keep plain files."""
    found: list[Path] = []
    for path in map(Path, paths):
        found.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    return found


def load_flows(paths: Iterable[str | Path], env: Mapping[str, str] | None = None) -> FlowSet:
    """Load flow files; problems are collected in ``FlowSet.problems``, never raised.

    ``${NAME}`` is substituted from ``env`` only (none given: nothing), never from the
    whole process environment, which may hold secrets.
    """
    env = env or {}
    flows = FlowSet()
    for path in flow_files(paths):
        flows.files.append(str(path))
        for obj in _read_array(path, flows.problems):
            _add_object(flows, str(path), substitute_env(obj, env))
    return flows


def flows_from_objects(name: str, objects: list[Any], base: FlowSet | None = None) -> FlowSet:
    """A flow set made of ``base`` plus node objects that come from code, not a file.

    ``name`` stands in for the file name in problems (for example the state file the
    generating package keeps them in).
    """
    flows = FlowSet()
    if base is not None:
        flows.nodes.update(base.nodes)
        flows.tabs.update(base.tabs)
        flows.subflows.update(base.subflows)
        flows.files.extend(base.files)
        flows.problems.extend(base.problems)
    flows.files.append(name)
    for obj in objects:
        _add_object(flows, name, obj)
    return flows


def substitute_env(value: Any, env: Mapping[str, str]) -> Any:
    """Replace ``${VAR}`` in every string property, as Node-RED does (unset -> "")."""
    if isinstance(value, str):
        return _ENV_VAR.sub(lambda m: env.get(m.group(1), ""), value)
    if isinstance(value, list):
        return [substitute_env(v, env) for v in value]
    if isinstance(value, dict):
        return {k: substitute_env(v, env) for k, v in value.items()}
    return value


def _read_array(path: Path, problems: list[Problem]) -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(Problem(str(path), None, None, f"cannot read: {exc.strerror}"))
        return []
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(Problem(str(path), None, None, f"not valid JSON: {exc}"))
        return []
    if not isinstance(data, list):
        problems.append(Problem(str(path), None, None, "a flow file must be a JSON array of nodes"))
        return []
    return data


def _add_object(flows: FlowSet, file: str, obj: Any) -> None:
    problem = _shape_problem(obj)
    if problem:
        node_id = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
        flows.problems.append(Problem(file, node_id, None, problem))
        return
    node_id, node_type = obj["id"], obj["type"]
    if node_id in flows.nodes or node_id in flows.tabs or node_id in flows.subflows:
        other = flows.nodes[node_id].file if node_id in flows.nodes else "a tab or subflow"
        flows.problems.append(Problem(file, node_id, "id", f"duplicate id (also in {other})"))
        return
    if node_type == "tab":
        flows.tabs[node_id] = obj
    elif node_type == SUBFLOW:
        flows.subflows[node_id] = Definition(obj, file)
    elif node_type not in LAYOUT_TYPES:
        wires = _wires(obj.get("wires", []))
        if wires is None:
            flows.problems.append(Problem(file, node_id, "wires", "must be a list of lists of node ids"))
            return
        flows.nodes[node_id] = NodeSpec(node_id, node_type, file, obj, wires)


def _declared_inputs(spec: NodeSpec, flows: FlowSet) -> list[tuple[str, int]]:
    value = spec.raw.get(WIRED_FROM)
    if value is None:
        return []
    entries = value if isinstance(value, list) else [value]
    found: list[tuple[str, int]] = []
    for index, entry in enumerate(entries):
        source, port = _source_port(entry)
        if not isinstance(source, str) or not isinstance(port, int) or isinstance(port, bool) or port < 0:
            flows.problems.append(
                Problem(spec.file, spec.id, f"{WIRED_FROM}[{index}]", "must be a node id or [node id, output port]")
            )
        elif source not in flows.nodes:
            flows.problems.append(
                Problem(spec.file, spec.id, f"{WIRED_FROM}[{index}]", f"no node {source!r} to be wired from")
            )
        else:
            found.append((source, port))
    return found


def _source_port(entry: Any) -> tuple[Any, Any]:
    if isinstance(entry, str):
        return entry, 0
    if isinstance(entry, list) and len(entry) == 2:
        return entry[0], entry[1]
    return None, None


def _shape_problem(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return "each entry must be a JSON object"
    if not isinstance(obj.get("id"), str) or not obj["id"]:
        return "missing or empty 'id'"
    if not isinstance(obj.get("type"), str) or not obj["type"]:
        return "missing or empty 'type'"
    return None


def _wires(value: Any) -> tuple[tuple[str, ...], ...] | None:
    if not isinstance(value, list):
        return None
    ports = []
    for port in value:
        if not isinstance(port, list) or not all(isinstance(t, str) for t in port):
            return None
        ports.append(tuple(port))
    return tuple(ports)
