"""``complete``: sends a message when a node it watches has finished handling one."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator

from flowengine.node import Node, NodeConfig, NodeRef

#: Node-RED's switch and rbe nodes never call done, so complete nodes never hear from them.
NEVER_DONE = frozenset({"switch", "rbe"})


class CompleteConfig(NodeConfig):
    scope: Annotated[list[str], NodeRef(many=True)] = Field(
        default_factory=list,
        description="Ids of the nodes to watch (in the same flow). Nodes this node is wired to are left out.",
    )
    uncaught: bool = Field(default=False, description="Written by Node-RED; no effect.")

    _scope = field_validator("scope", mode="before")(lambda v: [] if v in (None, "") else v)


class CompleteNode(Node[CompleteConfig]):
    """Sends a copy of each message a watched node finished handling, with
    `msg.complete = {source: {id, type, name}}`. A node has finished with a message when
    its handling of it returned without an error (a failure goes to catch nodes instead).
    Unlike Node-RED, nodes that hold a message (delay, join, batch...) finish when they
    have taken it in, not when they later send or drop it. As in Node-RED, switch and rbe
    nodes never report finishing.
    """

    Config = CompleteConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        wired = {target for port in self.spec.wires for target in port}
        self.watched = [node_id for node_id in self.config.scope if node_id not in wired]

    def watches(self, node: Node) -> bool:
        """True when ``node``'s finished messages come here: in scope, same flow, a type that reports done."""
        return node.id in self.watched and node.spec.z == self.spec.z and node.type_name not in NEVER_DONE

    def on_input(self, msg: dict[str, Any]) -> None:
        self.send(msg)
