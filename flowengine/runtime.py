"""The runtime: deploys a validated graph, routes messages, errors and status.

One asyncio loop owns every node. A deploy restarts only added, changed and
removed nodes (Node-RED's "modified nodes" deploy) and rewires the rest in
place, so unchanged nodes keep their state and their queued messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowengine.clock import Clock, LoopClock
from flowengine.context import ContextStores
from flowengine.errors import FlowConfigError, Problem
from flowengine.flowfile import FlowSet, flows_from_objects
from flowengine.graph import Graph, build_graph
from flowengine.message import Msg, clone, new_msg_id
from flowengine.node import Node
from flowengine.registry import NodeTypeRegistry
from flowengine.services import Services

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
        services: Services | None = None,
        clock: Clock | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.registry = registry or NodeTypeRegistry()
        self.state_dir = state_dir
        self.services = services if services is not None else Services()
        self.clock: Clock = clock or LoopClock()
        #: The only process environment flows can read (``env`` values, ``env.get``): the agent
        #: fills it with its own variables and an allow-list, never the whole environment.
        self.env: Mapping[str, str] = dict(env or {})
        self.contexts = ContextStores(state_dir)
        self.graph: Graph | None = None
        self.nodes: dict[str, Node[Any]] = {}
        self._routes: dict[str, list[list[Node[Any]]]] = {}
        self._catchers: list[Node[Any]] = []
        self._watchers: list[Node[Any]] = []
        self._completers: dict[str, list[Node[Any]]] = {}
        self._deploy_lock = asyncio.Lock()
        self._file_flows = FlowSet()
        self._generated: dict[str, list[dict[str, Any]]] = {}

    # -- deploy ---------------------------------------------------------------------

    async def deploy(self, flows: FlowSet) -> DeployPlan:
        """Validate ``flows`` (plus generated nodes) and make them the running graph.

        All or nothing: raises :class:`~flowengine.errors.FlowConfigError` (listing every
        problem) and leaves the running graph as it was when the new set is invalid, or
        when a new node cannot be built or started.
        """
        async with self._deploy_lock:
            plan = await self._deploy(flows, self._generated)
            self._file_flows = flows
            return plan

    def preload_generated(self, source: str, objects: list[dict[str, Any]]) -> None:
        """Set generated nodes to include in the next :meth:`deploy` (start-up, before any graph runs)."""
        self._generated[source] = objects

    async def update_generated(self, source: str, objects: list[dict[str, Any]]) -> DeployPlan:
        """Replace the nodes that code generated under ``source`` and redeploy.

        Generated nodes are ordinary nodes in the graph; ``source`` names them in
        problems. Raises :class:`~flowengine.errors.FlowConfigError` and changes
        nothing when the result is invalid.
        """
        async with self._deploy_lock:
            generated = {**self._generated, source: objects}
            plan = await self._deploy(self._file_flows, generated)
            self._generated = generated
            return plan

    async def restart(self, node_ids: Iterable[str]) -> DeployPlan:
        """Rebuild and restart running nodes with their current configuration (state they read changed).

        All or nothing, like a deploy: every new instance is built before a running
        one is touched, and a node that fails to start brings the old ones back and
        raises :class:`~flowengine.errors.FlowConfigError`. Nodes that use a restarted
        node restart with it; ids that are not running are ignored.
        """
        async with self._deploy_lock:
            graph = self.graph
            ids = {i for i in node_ids if i in self.nodes}
            if graph is None or not ids:
                return DeployPlan()
            frontier = list(ids)
            while frontier:
                users = graph.dependents(frontier.pop()) & set(self.nodes) - ids
                ids |= users
                frontier.extend(users)
            built = self._build(graph, ids)
            retired = await self._retire(ids)
            self.nodes.update(built)
            self._install(graph)
            failures = await self._start_nodes([i for i in graph.active_ids() if i in built])
            if failures:
                await self._roll_back(built, retired, graph)
                raise FlowConfigError(failures)
            log.info("restarted %d node(s)", len(built))
            self._tell_deployed(set(built))
            return DeployPlan(changed=set(built))

    async def _deploy(self, files: FlowSet, generated: dict[str, list[dict[str, Any]]]) -> DeployPlan:
        flows = files
        for source, objects in generated.items():
            flows = flows_from_objects(source, objects, flows)
        graph = build_graph(flows, self.registry, self.services.device)
        plan = self._plan(graph)
        built = self._build(graph, plan.restarted)
        old_graph, retired = self.graph, await self._retire(plan.removed | plan.changed)
        for node_id in plan.rewired:
            self.nodes[node_id].spec = graph.specs[node_id]
        self.nodes.update(built)
        self._install(graph)
        failures = await self._start_nodes([i for i in graph.active_ids() if i in built])
        if failures:
            await self._roll_back(built, retired, old_graph)
            raise FlowConfigError(failures)
        for node_id in plan.removed | plan.changed:
            self.contexts.forget_node(node_id)
        if plan.removed or plan.restarted or plan.rewired:
            log.info("deployed: %s", plan)
        self._tell_deployed(set(built))
        return plan

    def _tell_deployed(self, started: set[str]) -> None:
        for node in list(self.nodes.values()):
            try:
                node.on_deployed(started)
            except Exception as exc:
                node.error(exc)

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

    def _build(self, graph: Graph, ids: set[str]) -> dict[str, Node[Any]]:
        """Construct the new nodes before anything running is touched; a failure names the node."""
        built: dict[str, Node[Any]] = {}
        problems: list[Problem] = []
        for node_id in ids:
            spec = graph.specs[node_id]
            try:
                built[node_id] = graph.classes[node_id](spec, graph.configs[node_id], self)
            except Exception as exc:
                log.debug("constructor of %s failed", node_id, exc_info=exc)
                problems.append(Problem(spec.file, node_id, None, f"cannot be created: {_reason(exc)}"))
        if problems:
            raise FlowConfigError(problems)
        return built

    async def _retire(self, ids: set[str]) -> dict[str, Node[Any]]:
        """Close the nodes a deploy replaces or removes; they are returned for a roll-back."""
        closing = {i: self.nodes.pop(i) for i in ids if i in self.nodes}
        await asyncio.gather(*(n.close() for n in closing.values()))
        return closing

    async def _roll_back(self, built: dict[str, Node[Any]], retired: dict[str, Node[Any]], old: Graph | None) -> None:
        """A new node failed to start: close the new ones and bring the replaced ones back."""
        for node_id in built:
            self.nodes.pop(node_id, None)
        await asyncio.gather(*(n.close() for n in built.values()))
        if old is not None:
            for node_id, spec in old.specs.items():
                if node_id in self.nodes:
                    self.nodes[node_id].spec = spec
            revived = {i: old.classes[i](old.specs[i], old.configs[i], self) for i in retired}
            self.nodes.update(revived)
            self._install(old)
            failed = await self._start_nodes([i for i in old.active_ids() if i in revived])
            for problem in failed:
                log.error("roll-back: %s", problem)
        else:
            self.graph = None
            self._rewire()
        log.error("deploy rolled back: the previous graph keeps running")

    def _install(self, graph: Graph) -> None:
        self.graph = graph
        self._rewire()

    def _rewire(self) -> None:
        specs = self.graph.specs if self.graph is not None else {}
        routes: dict[str, list[list[Node[Any]]]] = {}
        for node_id in self.nodes:
            ports = specs[node_id].wires if node_id in specs else ()
            routes[node_id] = [[self.nodes[t] for t in port if t in self.nodes] for port in ports]
        self._routes = routes
        nodes = list(self.nodes.values())
        self._catchers = [n for n in nodes if n.type_name == "catch"]
        self._watchers = [n for n in nodes if n.type_name == "status"]
        self._completers = {}
        for node in nodes:
            watches = getattr(node, "watches", None) if node.type_name == "complete" else None
            for watched in nodes if watches else ():
                if watches(watched):  # type: ignore[misc]
                    self._completers.setdefault(watched.id, []).append(node)

    async def _start_nodes(self, ids: list[str]) -> list[Problem]:
        """Start nodes in order (config nodes first); the problems of those that failed."""
        problems = []
        for node_id in ids:
            node = self.nodes[node_id]
            try:
                await node.start()
            except Exception as exc:
                log.error("%s %s failed to start: %s", node.type_name, node_id, _reason(exc))
                log.debug("start failure of %s", node_id, exc_info=exc)
                problems.append(Problem(node.spec.file, node_id, None, f"failed to start: {_reason(exc)}"))
        return problems

    async def stop(self) -> None:
        """Close every node and flush persistent context."""
        async with self._deploy_lock:
            await self._retire(set(self.nodes))
            self._routes = {}
            self.contexts.flush()

    def env_value(self, node: Node[Any], name: str) -> Any:
        """Node-RED's ``env.get``: Node-RED's ``NR_*`` names, then the ``env`` of the node's flow and of the
        flows around it (a subflow instance's, then its parent's), then :attr:`env` (None when unset)."""
        tabs = self.graph.flows.tabs if self.graph else {}
        builtin = _builtin_env(node, tabs, name)
        if builtin is not None:
            return builtin
        z, seen = node.spec.z, set()
        while z and z not in seen:
            seen.add(z)
            tab = tabs.get(z, {})
            for item in tab.get("env") or ():
                if isinstance(item, Mapping) and item.get("name") == name:
                    return _typed_env(item, self.env)
            z = str(tab.get("parent") or "")
        return self.env.get(name)

    def idle(self) -> bool:
        """No node has a message waiting or in hand (a fake clock settles on this)."""
        return all(node.idle for node in self.nodes.values())

    def offloaded(self) -> bool:
        """Some node waits on work in another process (a fake clock waits for it in real time)."""
        return any(node.offloaded for node in self.nodes.values())

    # -- routing ----------------------------------------------------------------------

    def route(self, source: Node[Any], pairs: list[tuple[int, Msg]]) -> None:
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

    def targets(self, source: Node[Any], port: int = 0) -> list[Node[Any]]:
        """The running nodes wired to ``source``'s ``port`` (a source asks what its consumers need)."""
        ports = self._routes.get(source.id) or []
        return list(ports[port]) if port < len(ports) else []

    def route_to(self, source: Node[Any], port: int, targets: set[str], msg: Msg) -> None:
        """Deliver ``msg`` from ``source``'s ``port`` to the wired targets in ``targets`` only."""
        ports = self._routes.get(source.id) or []
        chosen = [t for t in ports[port] if t.id in targets] if port < len(ports) else []
        for index, target in enumerate(chosen):
            target.receive(clone(msg) if index else msg)

    def inject(self, node_id: str, msg: Msg) -> None:
        """Hand a message to a node from outside the graph (tests, tools)."""
        self.nodes[node_id].receive(msg)

    def report_error(self, source: Node[Any], text: str, msg: Msg, details: Mapping[str, Any] | None = None) -> None:
        """Route a node's error to the catch nodes that cover it.

        ``msg.error`` becomes ``{message, source, **details}`` (Node-RED adds an error's ``code``,
        ``stack`` and ``cause``); an ``error`` the message already had moves to ``msg._error``.
        """
        previous: dict[str, Any] = msg["error"] if isinstance(msg.get("error"), dict) else {}
        count = int(previous.get("source", {}).get("count", 0)) + 1
        if count > MAX_ERROR_LOOPS:
            log.error("error from %s looped %d times through catch nodes; dropped", source.id, count)
            return
        catchers = self._covering(self._catchers, source)
        instance = self._subflow_instance(source)
        if not catchers and instance is not None:  # not caught inside a subflow: its instance's flow sees it
            self.report_error(instance, text, msg, details)
            return
        if "error" in msg:
            msg["_error"] = msg["error"]
        msg["error"] = {"message": text, "source": self._source(source) | {"count": count}, **(details or {})}
        for catcher in catchers:
            catcher.send(clone(msg))

    def _subflow_instance(self, node: Node[Any]) -> Node[Any] | None:
        """The subflow instance node ``node`` runs inside, if any."""
        tab = self.graph.flows.tabs.get(node.spec.z, {}) if self.graph else {}
        return self.nodes.get(node.spec.z) if tab.get("subflow") else None

    def report_complete(self, source: Node[Any], msg: Msg) -> None:
        """A node finished handling ``msg``: the complete nodes watching it send a copy (Node-RED's done)."""
        watchers = self._completers.get(source.id)
        if not watchers:
            return
        for watcher in watchers:
            done = clone(msg)
            done["complete"] = {"source": self._source(source)}
            watcher.receive(done)

    def report_status(self, source: Node[Any], status: dict[str, Any]) -> None:
        """Route a node's status to the status nodes that cover it."""
        if not self._watchers or source.type_name == "status":
            return
        msg = {"_msgid": new_msg_id(), "status": {**status, "source": self._source(source)}}  # no payload, as Node-RED
        for watcher in self._covering(self._watchers, source):
            watcher.send(clone(msg))

    @staticmethod
    def _covering(listeners: list[Node[Any]], source: Node[Any]) -> list[Node[Any]]:
        """Listeners scoped to ``source`` or flow-wide in its tab; ``uncaught`` ones only as a fallback."""
        scoped: list[Node[Any]] = []
        flow_wide: list[Node[Any]] = []
        fallback: list[Node[Any]] = []
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
    def _source(node: Node[Any]) -> dict[str, Any]:
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


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _builtin_env(node: Node[Any], tabs: Mapping[str, Mapping[str, Any]], name: str) -> str | None:
    """``NR_NODE_ID``, ``NR_NODE_NAME``, ``NR_FLOW_ID``, ``NR_FLOW_NAME``, ``NR_SUBFLOW_ID``, ``NR_SUBFLOW_NAME``
    (inside a subflow: the instance's id and name)."""
    if not name.startswith("NR_"):
        return None
    tab = tabs.get(node.spec.z, {})
    subflow = tab.get("subflow") or {}
    values = {
        "NR_NODE_ID": node.id,
        "NR_NODE_NAME": node.name,
        "NR_FLOW_ID": node.spec.z,
        "NR_FLOW_NAME": str(tab.get("label") or ""),
        "NR_SUBFLOW_ID": str(node.spec.z if subflow else ""),
        "NR_SUBFLOW_NAME": str(subflow.get("name") or "") if subflow else "",
    }
    return values.get(name)
