"""``inject``: sends a message on deploy (``once``), on an interval (``repeat``) or on demand."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from flowengine.message import make_msg, set_path
from flowengine.node import Node, NodeConfig
from nodes.core.typed import typed_value


class InjectProp(NodeConfig):
    p: str
    v: Any = None
    vt: str | None = None


class InjectConfig(NodeConfig):
    props: list[InjectProp] = Field(default_factory=list)
    payload: Any = ""
    payloadType: str = "date"
    topic: str = ""
    repeat: float = Field(default=0, ge=0)
    once: bool = False
    onceDelay: float = Field(default=0.1, ge=0)

    @field_validator("repeat", "onceDelay", mode="before")
    @classmethod
    def _blank_is_zero(cls, value: Any) -> Any:
        return 0 if value in ("", None) else value


class InjectNode(Node):
    Config = InjectConfig
    config: InjectConfig

    async def on_start(self) -> None:
        cfg = self.config
        if cfg.once:
            self.later(cfg.onceDelay, self.trigger, "once")
        if cfg.repeat > 0:
            self.every(cfg.repeat, self.trigger, "repeat")

    def on_input(self, msg: dict[str, Any]) -> None:
        """A message arriving at an inject node triggers it (as the editor button does)."""
        self.trigger()

    def trigger(self) -> None:
        """Build and send the configured message."""
        cfg = self.config
        msg = make_msg()
        props = cfg.props or [InjectProp(p="payload"), InjectProp(p="topic", vt="str")]
        for prop in props:
            if prop.p == "payload":
                value, vtype = (cfg.payload, cfg.payloadType) if prop.vt is None else (prop.v, prop.vt)
            elif prop.p == "topic" and prop.vt in (None, "str") and prop.v is None:
                value, vtype = cfg.topic, "str"
            else:
                value, vtype = prop.v, prop.vt or "str"
            set_path(msg, prop.p, typed_value(self, value, vtype, msg))
        self.send(msg)
