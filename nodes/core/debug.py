"""``debug``: writes messages to the log (this runtime has no editor sidebar)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, field_validator

from flowengine.message import Msg, get_path
from flowengine.node import Node, NodeConfig

#: Longest text logged for one message (Node-RED's ``debugMaxLength`` is 1000).
MAX_LOG_LENGTH = 4000
#: Longest status text (Node-RED's ``debugStatusLength``).
MAX_STATUS_LENGTH = 32


class DebugConfig(NodeConfig):
    active: bool = Field(default=True, description="Log messages; false silences the node without undeploying it.")
    complete: str = Field(
        default="payload",
        description='What to log: "true" for the whole message, "false" or "payload" for the payload, or a property path.',
    )
    console: bool = Field(default=False, description="Accepted for compatibility; output always goes to the log.")
    tosidebar: bool = Field(default=True, description="Log the value (there is no sidebar; false logs nothing).")
    tostatus: bool = Field(default=False, description="Also show the value (or a count) as the node's status.")
    statusType: str = Field(
        default="auto", description='Status content: "auto" (the logged value), "counter" or "msg".'
    )
    statusVal: str = Field(default="", description='Property path shown in the status when `statusType` is "msg".')
    targetType: Literal["msg", "full"] = Field(
        default="msg",
        description='What `complete` names: "msg" a property, "full" the whole message (the editor sets it).',
    )

    @field_validator("complete", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value or "payload")

    @field_validator("statusType")
    @classmethod
    def _known_status(cls, value: str) -> str:
        if value not in ("auto", "counter", "msg"):
            raise ValueError(f"unsupported statusType {value!r}; expected auto, counter or msg")
        return value


class DebugNode(Node[DebugConfig]):
    """Logs each message it receives at INFO level, prefixed with the node id: the payload, a
    chosen property, or the whole message (`complete`). Values are written as JSON, cut at
    4000 characters. With `tostatus` the value (or a running count) also becomes the node's status.
    """

    Config = DebugConfig
    outputs = 0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.count = 0

    def on_input(self, msg: Msg) -> None:
        if not self.config.active:
            return
        self.count += 1
        value = self.value_of(msg)
        if self.config.tosidebar:
            self.log.info("%s", _text(value)[:MAX_LOG_LENGTH])
        if self.config.tostatus:
            self._show(msg, value)

    def value_of(self, msg: Msg) -> Any:
        """The part of ``msg`` this node reports."""
        complete = self.config.complete
        if complete == "true":
            return msg
        return get_path(msg, "payload" if complete == "false" else complete)

    def _show(self, msg: Msg, value: Any) -> None:
        kind = self.config.statusType
        if kind == "counter":
            self.status("blue", "ring", str(self.count))
            return
        if kind == "msg":
            value = get_path(msg, self.config.statusVal or "payload")
        elif self.config.complete == "true":
            value = msg.get("payload")
        text = value if isinstance(value, str) else _text(value)
        if len(text) > MAX_STATUS_LENGTH:
            text = text[:MAX_STATUS_LENGTH] + "..."
        self.status("grey", "dot", text)


def _text(value: Any) -> str:
    try:
        return json.dumps(value, default=repr, ensure_ascii=False)
    except ValueError:  # circular structure
        return repr(value)
