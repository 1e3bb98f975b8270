"""Node-RED subflows: each instance becomes real nodes in a flow of its own.

A definition (``type: "subflow"``, with ``in``, ``out``, ``env`` and optionally
``status``) owns template nodes (``z`` = its id). Every instance
(``type: "subflow:<id>"``) is replaced by:

- copies of the template nodes, ids ``<instance>/<node>``, in a flow whose id is
  the instance's: their own flow context, ``catch``/``status`` scope and ``env``
  (the instance's values over the definition's, then the parent flow's);
- the instance itself, a pass-through from the instance's input to the entry nodes;
- one pass-through per output, ``<instance>/out<k>``, wired to what the instance
  output ``k`` is wired to;
- ``<instance>/status`` when the definition has a status output: what reaches it
  becomes the instance's status, which ``status`` nodes of the parent flow see.

Instances inside a definition are expanded the same way (nested subflows), to a
depth of :data:`MAX_DEPTH`. Problems (unknown definition, a subflow that contains
itself) are collected, never raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

from flowengine.errors import Problem
from flowengine.message import Msg
from flowengine.node import Node, NodeConfig, NodeRef

SUBFLOW = "subflow"
PREFIX = "subflow:"
PORT_TYPE = "subflow port"
STATUS_TYPE = "subflow status"
MAX_DEPTH = 16


class SubflowPort(Node[NodeConfig]):
    """A subflow instance's input or one of its outputs: passes every message on unchanged."""

    def on_input(self, msg: Msg) -> None:
        self.send(msg)


class SubflowStatusConfig(NodeConfig):
    instance: Annotated[str, NodeRef(PORT_TYPE)] = ""


class SubflowStatus(Node[SubflowStatusConfig]):
    """A subflow's status output: shows ``msg.status`` (or ``msg.payload`` as text) on the instance."""

    Config = SubflowStatusConfig
    outputs = 0

    def on_input(self, msg: Msg) -> None:
        instance = self.runtime.nodes.get(self.config.instance)
        if instance is None:
            return
        status = msg.get("status")
        if isinstance(status, dict):
            instance.status(status.get("fill"), status.get("shape"), str(status.get("text", "")))
        else:
            instance.status(text=str(msg.get("payload", "")))


#: Node types the runtime provides for subflows (``module:Class``).
RUNTIME_TYPES = {PORT_TYPE: f"{__name__}:SubflowPort", STATUS_TYPE: f"{__name__}:SubflowStatus"}


@dataclass
class Definition:
    """A subflow definition and its template nodes (raw flow objects)."""

    raw: Mapping[str, Any]
    file: str
    templates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.raw["id"])

    def env(self) -> list[Any]:
        return list(self.raw.get("env") or [])


def expand(
    nodes: Mapping[str, Any], definitions: Mapping[str, Definition], problems: list[Problem]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Nodes with every instance expanded, and the flows the instances make (id -> tab object).

    ``nodes`` maps ids to node specs (anything with ``id``, ``type``, ``file``, ``raw``, ``wires``,
    ``z``); the result holds specs of the same kind, built with :func:`dataclasses.replace`.
    """
    out: dict[str, Any] = {}
    flows: dict[str, dict[str, Any]] = {}
    for spec in nodes.values():
        if spec.z in definitions:
            continue  # a template: runs only as part of an instance
        if spec.type.startswith(PREFIX):
            _instance(spec, definitions, problems, out, flows, depth=0)
        else:
            out[spec.id] = spec
    return out, flows


def _instance(
    spec: Any,
    definitions: Mapping[str, Definition],
    problems: list[Problem],
    out: dict[str, Any],
    flows: dict[str, dict[str, Any]],
    depth: int,
) -> None:
    definition = definitions.get(spec.type[len(PREFIX) :])
    if definition is None:
        problems.append(Problem(spec.file, spec.id, "type", f"no subflow definition {spec.type[len(PREFIX) :]!r}"))
        return
    if depth >= MAX_DEPTH:
        problems.append(
            Problem(spec.file, spec.id, "type", f"subflows nested deeper than {MAX_DEPTH} (one contains itself?)")
        )
        return
    iid = spec.id
    flows[iid] = _instance_flow(spec, definition)
    outputs = _output_ports(spec, definition, out)
    entries = [str(w["id"]) for port in definition.raw.get("in") or [] for w in port.get("wires") or []]
    out[iid] = replace(
        spec, type=PORT_TYPE, raw=_raw(spec.raw, PORT_TYPE), wires=(tuple(_local(iid, entries, outputs, definition)),)
    )
    for template in definition.templates:
        clone = _clone(spec, iid, template, definition, outputs)
        if clone.type.startswith(PREFIX):
            _instance(clone, definitions, problems, out, flows, depth + 1)
        else:
            out[clone.id] = clone
    _status_port(spec, definition, out)


def _instance_flow(spec: Any, definition: Definition) -> dict[str, Any]:
    """The flow an instance makes: the instance's env over the definition's, inside its parent flow."""
    names = {e.get("name") for e in spec.raw.get("env") or [] if isinstance(e, dict)}
    env = [
        *(spec.raw.get("env") or []),
        *(e for e in definition.env() if isinstance(e, dict) and e.get("name") not in names),
    ]
    label = spec.name or str(definition.raw.get("name") or definition.id)
    return {
        "id": spec.id,
        "type": "tab",
        "label": label,
        "env": env,
        "parent": spec.z,
        "subflow": {"definition": definition.id, "name": spec.name},
        "disabled": bool(spec.raw.get("d")),
    }


def _output_ports(spec: Any, definition: Definition, out: dict[str, Any]) -> list[str]:
    """One pass-through per output of the definition, wired as the instance's output."""
    ids = []
    for k, _ in enumerate(definition.raw.get("out") or []):
        port_id = f"{spec.id}/out{k}"
        targets = spec.wires[k] if k < len(spec.wires) else ()
        raw = {"id": port_id, "type": PORT_TYPE, "z": spec.id, "name": f"output {k + 1}"}
        out[port_id] = replace(spec, id=port_id, type=PORT_TYPE, raw=raw, wires=(tuple(targets),))
        ids.append(port_id)
    return ids


def _status_port(spec: Any, definition: Definition, out: dict[str, Any]) -> None:
    """The status output: template nodes wired to it show their messages as the instance's status."""
    status = definition.raw.get("status")
    if not isinstance(status, dict):
        return
    port_id = f"{spec.id}/status"
    raw = {"id": port_id, "type": STATUS_TYPE, "z": spec.id, "name": "status", "instance": spec.id}
    out[port_id] = replace(spec, id=port_id, type=STATUS_TYPE, raw=raw, wires=())
    for wire in status.get("wires") or []:
        source = out.get(f"{spec.id}/{wire.get('id')}")
        if source is not None:
            out[source.id] = _add_wire(source, int(wire.get("port", 0)), port_id)


def _clone(spec: Any, iid: str, template: dict[str, Any], definition: Definition, outputs: list[str]) -> Any:
    """A template node as a node of instance ``iid``: ids prefixed, wires and references remapped."""
    own = {str(t["id"]) for t in definition.templates}
    raw = {
        key: _remap(value, iid, own) if key not in ("id", "type", "wires") else value for key, value in template.items()
    }
    raw.update(id=f"{iid}/{template['id']}", z=iid)
    if template.get("d") or spec.raw.get("d"):
        raw["d"] = True
    ports = [[f"{iid}/{t}" for t in port] for port in template.get("wires") or []]
    for k, port in enumerate(definition.raw.get("out") or []):
        for wire in port.get("wires") or []:
            if wire.get("id") == template["id"]:
                index = int(wire.get("port", 0))
                ports += [[] for _ in range(index + 1 - len(ports))]
                ports[index].append(outputs[k])
    return replace(spec, id=raw["id"], type=str(template["type"]), raw=raw, wires=tuple(tuple(p) for p in ports))


def _local(iid: str, entries: list[str], outputs: list[str], definition: Definition) -> list[str]:
    """Targets of the instance's input: entry nodes, or an output wired straight from the input."""
    targets = [f"{iid}/{e}" if e != definition.id else e for e in entries]
    for k, port in enumerate(definition.raw.get("out") or []):
        if any(w.get("id") == definition.id for w in port.get("wires") or []):
            targets.append(outputs[k])
    return targets


def _remap(value: Any, iid: str, own: set[str]) -> Any:
    """References to template nodes (link targets, catch/status scopes, config nodes) follow the copy."""
    if isinstance(value, str):
        return f"{iid}/{value}" if value in own else value
    if isinstance(value, list):
        return [_remap(v, iid, own) for v in value]
    return value


def _add_wire(spec: Any, port: int, target: str) -> Any:
    ports = [list(p) for p in spec.wires] + [[] for _ in range(port + 1 - len(spec.wires))]
    ports[port].append(target)
    return replace(spec, wires=tuple(tuple(p) for p in ports))


def _raw(raw: Mapping[str, Any], node_type: str) -> dict[str, Any]:
    return {"id": raw["id"], "type": node_type, "z": raw.get("z", ""), "name": raw.get("name", ""), "d": raw.get("d")}
