"""The runtime: deploys a validated graph, routes messages, errors and status.

One asyncio loop owns every node. A deploy restarts only added, changed and
removed nodes (Node-RED's "modified nodes" deploy) and rewires the rest in
place, so unchanged nodes keep their state and their queued messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowengine.clock import Clock, LoopClock
from flowengine.context import ContextStores
from flowengine.flowfile import FlowSet, flows_from_objects
from flowengine.graph import Graph, build_graph
from flowengine.message import Msg, clone, new_msg_id
from flowengine.node import Node
from flowengine.registry import NodeTypeRegistry

log = logging.getLogger("flowengine.runtime")

#: Errors routed to catch nodes more often than this for one message are dropped (loop guard).
MAX_ERROR_LOOPS = 10


@dataclass
class DeployPlan:
    """What a deploy changed, by node id."""

    added: set[str] = field(default_factory=set)
    changed: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    rewired: set[str] = field(default_factory=set)

    @property
    def restarted(self) -> set[str]:
        return self.added | self.changed

    def __str__(self) -> str:
        parts = (f"{len(s)} {n}" for n, s in vars(self).items() if s)
        return ", ".join(parts) or "no changes"


class Runtime:
    """Runs one graph of nodes at a time and swaps in new graphs without a full restart."""

    def __init__(
        self,
        registry: NodeTypeRegistry | None = None,
        *,
        state_dir: Path | None = None,
        services: dict[str, Any] | None = None,
        clock: Clock | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.registry = registry or NodeTypeRegistry()
        self.clock: Clock = clock or LoopClock()
        #: The only process environment flows can read (``env`` values, ``env.get``): the agent
        #: fills it with its own variables and an allow-list, never the whole environment.
        self.env: Mapping[str, str] = dict(env or {})
        self.state_dir = state_dir
        self.services: dict[str, Any] = services if services is not None else {}
        self.contexts = ContextStores(state_dir)
        self.graph: Graph | None = None
        self.nodes: dict[str, Node] = {}
        self._routes: dict[str, list[list[Node]]] = {}
        self._catchers: list[Node] = []
        self._watchers: list[Node] = []
        self._deploy_lock = asyncio.Lock()
        self._file_flows = FlowSet()
        self._generated: dict[str, list[dict[str, Any]]] = {}

    # -- deploy ---------------------------------------------------------------------

    async def deploy(self, flows: FlowSet) -> DeployPlan:
        """Validate ``flows`` (plus generated nodes) and make them the running graph.

        Raises :class:`~flowengine.errors.FlowConfigError` (listing every problem)
        before touching anything when the new set is invalid.
        """
        async with self._deploy_lock:
            plan = await self._deploy(flows, self._generated)
            self._file_flows = flows
            return plan

    def preload_generated(self, source: str, objects: list[dict[str, Any]]) -> None:
        """Set generated nodes to include in the next :meth:`deploy` (start-up, before any graph runs)."""
        self._generated[source] = objects

    async def update_generated(self, source: str, objects: list[dict[str, Any]]) -> DeployPlan:
        """Replace the nodes that code generated under ``source`` (e.g. custom groups) and redeploy.

        Generated nodes are ordinary nodes in the graph; ``source`` names them in
        problems. Raises :class:`~flowengine.errors.FlowConfigError` and changes
        nothing when the result is invalid.
        """
        async with self._deploy_lock:
            generated = {**self._generated, source: objects}
            plan = await self._deploy(self._file_flows, generated)
            self._generated = generated
            return plan

    async def _deploy(self, files: FlowSet, generated: dict[str, list[dict[str, Any]]]) -> DeployPlan:
        flows = files
        for source, objects in generated.items():
            flows = flows_from_objects(source, objects, flows)
        graph = build_graph(flows, self.registry, self.services.get("device"))
        plan = self._plan(graph)
        await self._close_nodes(plan.removed | plan.changed)
        for node_id in plan.restarted:
            spec = graph.specs[node_id]
            self.nodes[node_id] = graph.classes[node_id](spec, graph.configs[node_id], self)
        for node_id in plan.rewired:
            self.nodes[node_id].spec = graph.specs[node_id]
        self.graph = graph
        self._rewire()
        await self._start_nodes([i for i in graph.active_ids() if i in plan.restarted])
        if plan.removed or plan.restarted or plan.rewired:
            log.info("deployed: %s", plan)
        return plan

    def _plan(self, new: Graph) -> DeployPlan:
        old_specs = self.graph.specs if self.graph else {}
        old_active = set(self.nodes)
        new_active = set(new.active_ids())
        plan = DeployPlan()
        plan.added = new_active - old_active
        plan.removed = old_active - new_active
        for node_id in new_active & old_active:
            if not old_specs[node_id].same_config(new.specs[node_id]):
                plan.changed.add(node_id)
            elif old_specs[node_id].wires != new.specs[node_id].wires:
                plan.rewired.add(node_id)
        for ref in set(plan.changed):  # nodes that use a changed config node restart too
            plan.changed |= (new.dependents(ref) & new_active) - plan.added
        plan.rewired -= plan.changed
        return plan

    def _rewire(self) -> None:
        assert self.graph is not None
        routes: dict[str, list[list[Node]]] = {}
        for node_id in self.nodes:
            ports = self.graph.specs[node_id].wires
            routes[node_id] = [[self.nodes[t] for t in port if t in self.nodes] for port in ports]
        self._routes = routes
        nodes = list(self.nodes.values())
        self._catchers = [n for n in nodes if n.type_name == "catch"]
        self._watchers = [n for n in nodes if n.type_name == "status"]

    async def _start_nodes(self, ids: list[str]) -> None:
        for node_id in ids:
            node = self.nodes[node_id]
            try:
                await node.start()
            except Exception as exc:
                node.error(f"failed to start: {exc}")
                log.debug("start failure of %s", node_id, exc_info=exc)

    async def _close_nodes(self, ids: set[str]) -> None:
        closing = [self.nodes.pop(i) for i in ids if i in self.nodes]
        await asyncio.gather(*(n.close() for n in closing))
        for node in closing:
            self.contexts.forget_node(node.id)

    async def stop(self) -> None:
        """Close every node and flush persistent context."""
        async with self._deploy_lock:
            await self._close_nodes(set(self.nodes))
            self._routes = {}
            self.contexts.flush()

    def env_value(self, node: Node, name: str) -> Any:
        """Node-RED's ``env.get``: the node's tab ``env`` first, then :attr:`env` (None when unset)."""
        tab = self.graph.flows.tabs.get(node.spec.z, {}) if self.graph else {}
        for item in tab.get("env") or ():
            if isinstance(item, Mapping) and item.get("name") == name:
                return _typed_env(item, self.env)
        return self.env.get(name)

    def idle(self) -> bool:
        """No node has a message waiting or in hand (a fake clock settles on this)."""
        return all(node.idle for node in self.nodes.values())

    def offloaded(self) -> bool:
        """Some node waits on work in another process (a fake clock waits for it in real time)."""
        return any(node.offloaded for node in self.nodes.values())

    # -- routing ----------------------------------------------------------------------

    def route(self, source: Node, pairs: list[tuple[int, Msg]]) -> None:
        """Deliver messages from ``source``'s ports; every extra delivery gets a clone."""
        ports = self._routes.get(source.id)
        if not ports:
            return
        if len(pairs) == 1:  # the common case, without the bookkeeping of shared messages
            port, msg = pairs[0]
            targets = ports[port] if port < len(ports) else ()
            for index, target in enumerate(targets):
                target.receive(clone(msg) if index else msg)
            return
        delivered: set[int] = set()
        for port, msg in pairs:
            if port >= len(ports):
                continue
            for target in ports[port]:
                if id(msg) in delivered:
                    target.receive(clone(msg))
                else:
                    delivered.add(id(msg))
                    target.receive(msg)

    def inject(self, node_id: str, msg: Msg) -> None:
        """Hand a message to a node from outside the graph (tests, tools)."""
        self.nodes[node_id].receive(msg)

    def report_error(self, source: Node, text: str, msg: Msg, details: Mapping[str, Any] | None = None) -> None:
        """Route a node's error to the catch nodes that cover it.

        ``msg.error`` becomes ``{message, source, **details}`` (Node-RED adds an error's ``code``,
        ``stack`` and ``cause``); an ``error`` the message already had moves to ``msg._error``.
        """
        previous: dict[str, Any] = msg["error"] if isinstance(msg.get("error"), dict) else {}
        count = int(previous.get("source", {}).get("count", 0)) + 1
        if count > MAX_ERROR_LOOPS:
            log.error("error from %s looped %d times through catch nodes; dropped", source.id, count)
            return
        if "error" in msg:
            msg["_error"] = msg["error"]
        msg["error"] = {"message": text, "source": self._source(source) | {"count": count}, **(details or {})}
        for catcher in self._covering(self._catchers, source):
            catcher.send(clone(msg))

    def report_status(self, source: Node, status: dict[str, Any]) -> None:
        """Route a node's status to the status nodes that cover it."""
        if not self._watchers or source.type_name == "status":
            return
        msg = {"_msgid": new_msg_id(), "status": {**status, "source": self._source(source)}}  # no payload, as Node-RED
        for watcher in self._covering(self._watchers, source):
            watcher.send(clone(msg))

    @staticmethod
    def _covering(listeners: list[Node], source: Node) -> list[Node]:
        """Listeners scoped to ``source`` or flow-wide in its tab; ``uncaught`` ones only as a fallback."""
        scoped: list[Node] = []
        flow_wide: list[Node] = []
        fallback: list[Node] = []
        for node in listeners:
            scope = getattr(node.config, "scope", None)
            if node is source:
                continue
            if scope:
                if source.id in scope:
                    scoped.append(node)
            elif node.spec.z == source.spec.z:
                (fallback if getattr(node.config, "uncaught", False) else flow_wide).append(node)
        return (scoped + flow_wide) or fallback

    @staticmethod
    def _source(node: Node) -> dict[str, Any]:
        return {"id": node.id, "type": node.type_name, "name": node.name}


def _typed_env(item: Mapping[str, Any], env: Mapping[str, str]) -> Any:
    """A tab env entry ``{name, value, type}`` as Node-RED types it (str, num, bool, json, env)."""
    value, kind = item.get("value", ""), item.get("type", "str")
    if kind == "num":
        try:
            number = float(value)
        except (TypeError, ValueError):
            return value
        return int(number) if number.is_integer() else number
    if kind == "bool":
        return str(value).lower() == "true"
    if kind == "json":
        try:
            return json.loads(value) if isinstance(value, str) else value
        except ValueError:
            return value
    if kind == "env":
        return env.get(str(value))
    return value
