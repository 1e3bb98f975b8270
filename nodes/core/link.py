"""``link in``, ``link out`` and ``link call``: invisible wires between parts of a flow (or between flows)."""

from __future__ import annotations

import functools
import os
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from flowengine.clock import Timer
from flowengine.errors import NodeError
from flowengine.message import Msg, clone
from flowengine.node import Node, NodeConfig, NodeRef


def _id_list(value: Any) -> Any:
    """Node-RED writes ``links`` as a list; a single id is accepted too."""
    if value in (None, ""):
        return []
    return [value] if isinstance(value, str) else value


class LinkInConfig(NodeConfig):
    links: Annotated[list[str], NodeRef("link out", many=True)] = Field(
        default_factory=list, description="Ids of `link out` nodes that send here (Node-RED keeps both ends in step)."
    )

    _links = field_validator("links", mode="before")(_id_list)


class LinkInNode(Node[LinkInConfig]):
    """Passes on every message a `link out` or `link call` node sends to it."""

    Config = LinkInConfig

    def on_input(self, msg: Msg) -> None:
        self.send(msg)


class LinkOutConfig(NodeConfig):
    mode: Literal["link", "return"] = Field(
        default="link",
        description='"link": send to the `link in` nodes in `links`; "return": answer the `link call` that sent the message.',
    )
    links: Annotated[list[str], NodeRef("link in", many=True)] = Field(
        default_factory=list, description='Ids of the `link in` nodes to send to (mode "link").'
    )

    _links = field_validator("links", mode="before")(_id_list)


class LinkOutNode(Node[LinkOutConfig]):
    """Sends each message to its `link in` nodes (those in `links`, plus any `link in` that lists
    this node), each target getting its own copy; or, in "return" mode, back to the `link call`
    node that started the call. Has no wires of its own.
    """

    Config = LinkOutConfig
    outputs = 0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._targets: list[str] = []
        self._graph: object = None

    def on_input(self, msg: Msg) -> None:
        if self.config.mode == "return":
            self._return(msg)
            return
        targets = [self.runtime.nodes[t] for t in self.targets() if t in self.runtime.nodes]
        for index, target in enumerate(targets):
            target.receive(msg if index == 0 else clone(msg))

    def targets(self) -> list[str]:
        """Ids of the link-in nodes this node sends to (recomputed after each deploy)."""
        graph = self.runtime.graph
        if graph is not self._graph and graph is not None:
            found = dict.fromkeys(self.config.links)
            for node_id, config in graph.configs.items():
                if isinstance(config, LinkInConfig) and self.id in config.links:
                    found[node_id] = None
            self._targets, self._graph = list(found), graph
        return self._targets

    def _return(self, msg: Msg) -> None:
        """Answer the link call on top of ``msg._linkSource``; without one the message is dropped with a
        warning, as Node-RED does (it is not an error: catch nodes do not see it)."""
        stack = msg.get("_linkSource")
        event = stack.pop() if isinstance(stack, list) and stack else {}
        caller = self.runtime.nodes.get(str(event.get("node")))
        if not isinstance(caller, LinkCallNode):
            self.log.warning("return mode: no link call node to return the message to")
            return
        caller.returned(str(event.get("id")), msg)


class LinkCallConfig(NodeConfig):
    links: Annotated[list[str], NodeRef("link in", many=True)] = Field(
        default_factory=list, description='The `link in` node to call (first entry; linkType "static").'
    )
    linkType: Literal["static", "dynamic"] = Field(
        default="static",
        description='"static": call `links[0]`; "dynamic": call the link in named or identified by `msg.target`.',
    )
    timeout: float = Field(
        default=30, gt=0, description="Seconds to wait for the answer before reporting a timeout error."
    )

    _links = field_validator("links", mode="before")(_id_list)
    _timeout = field_validator("timeout", mode="before")(lambda v: 30 if v in ("", None) else v)


class LinkCallNode(Node[LinkCallConfig]):
    """Calls a `link in` node like a subroutine: the message goes there, and what a `link out`
    in "return" mode sends back comes out of this node. No answer within `timeout` seconds
    reports "timeout" (with the original message) to catch nodes.
    """

    Config = LinkCallConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._waiting: dict[str, tuple[Msg, Timer]] = {}

    def on_input(self, msg: Msg) -> None:
        target = self._target(msg)
        event_id = os.urandom(8).hex()
        handle = self.clock.call_later(self.config.timeout, functools.partial(self._timed_out, event_id))
        self._waiting[event_id] = (clone(msg), handle)
        stack = msg.get("_linkSource")
        msg["_linkSource"] = (
            [*stack, {"id": event_id, "node": self.id}]
            if isinstance(stack, list)
            else [{"id": event_id, "node": self.id}]
        )
        target.receive(msg)

    def returned(self, event_id: str, msg: Msg) -> None:
        """An answer from a return-mode link out."""
        if msg.get("_linkSource") == []:
            del msg["_linkSource"]
        waiting = self._waiting.pop(event_id, None)
        if waiting is not None:
            waiting[1].cancel()
        self.send(msg)

    def _timed_out(self, event_id: str) -> None:
        waiting = self._waiting.pop(event_id, None)
        if waiting is not None:
            self.error(NodeError("timeout"), waiting[0])

    def _target(self, msg: Msg) -> Node:
        """The link in node to call: by id; in dynamic mode also by name, in this flow first (Node-RED's texts)."""
        dynamic = self.config.linkType == "dynamic"
        wanted = msg.get("target") if dynamic else next(iter(self.config.links), None)
        links = [n for n in self.runtime.nodes.values() if isinstance(n, LinkInNode)]
        by_id = [n for n in links if n.id == wanted]
        if by_id:
            return by_id[0]
        if wanted and dynamic:
            same_flow = [n for n in links if (n.name or n.id) == wanted and n.spec.z == self.spec.z]
            named = [n for n in links if (n.name or n.id) == wanted]
            for found in (same_flow, named):
                if len(found) == 1:
                    return found[0]
            if len(named) > 1:
                raise NodeError(f"Multiple link-in nodes named '{wanted}' found")
        raise NodeError(f"target link-in node '{wanted or ''}' not found")

    async def on_close(self) -> None:
        for _, handle in self._waiting.values():
            handle.cancel()
        self._waiting.clear()
