"""``catch``: emits the messages of nodes that failed, as routed by the runtime."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator

from flowengine.node import Node, NodeConfig, NodeRef


def scope_list(value: Any) -> Any:
    """Node-RED writes ``null`` (whole flow) or a list of node ids; "group" scope is not supported."""
    if value in (None, "", []):
        return None
    if isinstance(value, str):
        raise ValueError(f"scope {value!r} is not supported; use null (whole flow) or a list of node ids")
    return value


class CatchConfig(NodeConfig):
    scope: Annotated[list[str] | None, NodeRef(many=True)] = Field(
        default=None,
        description="Ids of the nodes whose errors to catch; null catches every node of the same flow (tab).",
    )
    uncaught: bool = Field(
        default=False,
        description="With a null scope: only catch errors no other catch node of the flow handles.",
    )

    _scope = field_validator("scope", mode="before")(scope_list)


class CatchNode(Node[CatchConfig]):
    """Sends a message for each error of the nodes it covers. The message is the one the failing
    node was handling (a copy), with `msg.error = {message, source: {id, type, name, count}}`;
    a node that fails outside a message yields a fresh message. Scoped and flow-wide catch nodes
    all receive the error; `uncaught` ones only when no other catch node of the flow did.
    Errors that loop through catch nodes more than 10 times for one message are dropped.
    """

    Config = CatchConfig
    accepts_input = False
