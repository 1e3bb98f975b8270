"""Request topics a user flow takes over: ``mqtt in`` nodes on the device's own link.

A user ``mqtt in`` (no ``broker``: the device's connection) subscribed to a topic
the agent also listens on, such as ``{root}/door/set``, receives those requests.
The agent then leaves the topic to that flow instead of answering ``not_found``.
A topic the agent really serves (``gnss/set``, a custom group's ``refresh``, ...)
cannot be taken: two parties would answer one request, so the graph is refused.
Everything is read from the graph itself (no registry): ``flexapi request`` looks
at the running graph after each deploy, ``flowengine validate`` at the one it checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from paho.mqtt.client import topic_matches_sub

from flowengine.errors import Problem
from flowengine.graph import Graph
from nodes.flexapi.groups import GROUPS
from nodes.flexapi.routes import Pattern, route_for
from nodes.flexapi.topics import request_filters

USER_IN_TYPE = "mqtt in"
CUSTOM_GROUP_TYPE = "flexapi custom group"
#: Requests the agent answers by operation, whatever groups exist: (group, op).
FIXED_REQUESTS = (("group", "set"), ("group", "get"), ("io", "control"), ("io", "toggle"), ("app", "control"))


@dataclass(frozen=True)
class TakenFilter:
    """A user ``mqtt in`` on the device link: its node, file and topic filter."""

    node_id: str
    file: str
    topic_filter: str


def served_requests(custom_groups: Iterable[str] = ()) -> set[tuple[str, str]]:
    """Every (group, op) the agent answers with something else than not_found / not_support."""
    served = {(g.name, "refresh") for g in GROUPS.values()}
    served |= {(g.name, "set") for g in GROUPS.values() if g.timed}
    served |= set(FIXED_REQUESTS)
    served |= {(name, op) for name in custom_groups for op in ("set", "refresh")}
    return served


def routed(served: set[tuple[str, str]], table: list[list[Pattern]]) -> set[tuple[str, str]]:
    """The served requests a route of ``flexapi request`` actually takes to a handler."""
    return {pair for pair in served if route_for(table, *pair) is not None}


def taken_filters(graph: Graph | None) -> list[TakenFilter]:
    """The topic filters of the active ``mqtt in`` nodes that use the device's own link."""
    if graph is None:
        return []
    found = []
    for node_id, spec in graph.specs.items():
        config = graph.configs.get(node_id)
        if spec.type != USER_IN_TYPE or config is None or graph.flows.is_disabled(spec):
            continue
        if not getattr(config, "broker", ""):
            found.append(TakenFilter(node_id, spec.file, str(getattr(config, "topic", ""))))
    return found


def custom_group_names(graph: Graph | None) -> list[str]:
    """Names of the custom groups running as generated nodes in ``graph``."""
    if graph is None:
        return []
    nodes = [i for i, spec in graph.specs.items() if spec.type == CUSTOM_GROUP_TYPE and i in graph.configs]
    return [str(getattr(graph.configs[i], "group_name", "")) for i in nodes]


def left_to_user(topic: str, pair: tuple[str, str], taken: Iterable[str], served: set[tuple[str, str]]) -> bool:
    """True when a request arrives on a topic a user flow took and the agent does not serve."""
    return pair not in served and any(topic_matches_sub(f, topic) for f in taken)


def check(graph: Graph, root: str, table: list[list[Pattern]], request_node: str) -> list[Problem]:
    """Errors for user filters that take served request topics, notes for those that take the rest."""
    served = routed(served_requests(custom_group_names(graph)), table)
    topics = {f"{root}/{group}/{op}": (group, op) for group, op in sorted(served)}
    problems = []
    for taken in taken_filters(graph):
        hits = [t for t in topics if topic_matches_sub(taken.topic_filter, t)]
        if hits:
            problems.append(_collision(taken, hits, request_node))
        elif any(filters_overlap(taken.topic_filter, f) for f in request_filters(root)):
            problems.append(_hand_over(taken, request_node))
    return problems


def _collision(taken: TakenFilter, hits: list[str], request_node: str) -> Problem:
    shown = ", ".join(hits[:3]) + (f" and {len(hits) - 3} more" if len(hits) > 3 else "")
    return Problem(
        taken.file,
        taken.node_id,
        "topic",
        f"{taken.topic_filter!r} takes {shown}, answered by the FlexAPI agent ({request_node}): a request would get "
        "two answers; use another topic, or an mqtt-broker node of its own to only listen",
    )


def _hand_over(taken: TakenFilter, request_node: str) -> Problem:
    return Problem(
        taken.file,
        taken.node_id,
        "topic",
        f"{taken.topic_filter!r} takes FlexAPI request topics the agent does not serve: {request_node} leaves them "
        "to this flow (no not_found answer)",
        level="info",
    )


def filters_overlap(first: str, second: str) -> bool:
    """True when some topic matches both MQTT topic filters."""
    a, b = first.split("/"), second.split("/")
    for index in range(max(len(a), len(b))):
        x = a[index] if index < len(a) else None
        y = b[index] if index < len(b) else None
        if x == "#" or y == "#":
            return True
        if x is None or y is None:
            return False
        if x != y and "+" not in (x, y):
            return False
    return True
