"""``status``: emits status changes of other nodes, as routed by the runtime."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator

from flowengine.node import Node, NodeConfig, NodeRef
from nodes.core.catch import scope_list


class StatusConfig(NodeConfig):
    scope: Annotated[list[str] | None, NodeRef(many=True)] = Field(
        default=None,
        description="Ids of the nodes to watch; null watches every node of the same flow (tab). "
        "Nodes this node is wired to are left out, so a status cannot loop back into itself.",
    )

    _scope = field_validator("scope", mode="before")(scope_list)


class StatusNode(Node[StatusConfig]):
    """Sends `msg.status = {fill, shape, text, source: {id, type, name}}` whenever a node it
    watches changes its status (for example a connection going down, or a node reporting an error).
    """

    Config = StatusConfig
    accepts_input = False

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        if self.config.scope:
            wired = {target for port in self.spec.wires for target in port}
            kept = [node_id for node_id in self.config.scope if node_id not in wired]
            # a scope of only itself covers nothing (status nodes never report to status nodes)
            self.config = self.config.model_copy(update={"scope": kept or [self.id]})
