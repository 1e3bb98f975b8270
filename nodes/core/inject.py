"""``inject``: starts a flow on deploy (``once``), on an interval (``repeat``), on a ``crontab`` or on demand."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, field_validator

from flowengine.message import Msg, make_msg, set_path
from flowengine.node import Node, NodeConfig
from nodes.core.cron import Cron
from nodes.core.typed import VALUE_TYPES, check_static, check_type, typed_value

#: Node-RED's longest repeat interval (setInterval limit), in seconds.
MAX_REPEAT = 2147483


class InjectProp(NodeConfig):
    """One property the inject node sets on its message."""

    p: str = Field(description="Message property path to set, e.g. `payload` or `topic`.")
    vt: str | None = Field(
        default=None, description="Value type: str, num, bool, json, date, bin, env, msg, flow, global."
    )
    v: Any = Field(default=None, description="The value, read according to `vt`.")

    _check_vt = field_validator("vt")(lambda v: check_type(v, VALUE_TYPES))
    _check_v = field_validator("v")(lambda v, info: check_static(v, info.data.get("vt")))


class InjectConfig(NodeConfig):
    props: list[InjectProp] | None = Field(
        default=None,
        description="Properties to set, in order: each `p` (path), `v` (value) and `vt` (its type). Without it, the "
        "legacy `payload`/`payloadType` and `topic` are used; a `payload` entry without `v` also uses them.",
    )
    payloadType: str = Field(
        default="date", description="Type of `payload`: str, num, bool, json, date, bin, env, msg, flow, global."
    )
    payload: Any = Field(default="", description="Legacy payload value (also used by a `payload` prop without `v`).")
    topic: str = Field(default="", description="Topic (used by a `topic` prop of type str without `v`).")
    repeat: float = Field(
        default=0, ge=0, le=MAX_REPEAT, description="Send every this many seconds; 0 or blank: no repeat."
    )
    crontab: str = Field(default="", description="Five-field cron schedule (local time); used when `repeat` is 0.")
    once: bool = Field(default=False, description="Also send once shortly after deploy.")
    onceDelay: float = Field(
        default=0.1, ge=0, description="Seconds after deploy for `once`; 0 or blank means 0.1 (as Node-RED)."
    )

    _blank_is_zero = field_validator("repeat", "onceDelay", mode="before")(lambda v: 0 if v in ("", None) else v)
    _check_payload_type = field_validator("payloadType")(lambda v: check_type(v, VALUE_TYPES, "payloadType"))
    _check_payload = field_validator("payload")(lambda v, info: check_static(v, info.data.get("payloadType")))

    @field_validator("crontab")
    @classmethod
    def _valid_crontab(cls, value: str) -> str:
        if value.strip():
            Cron.parse(value)
        return value.strip()


class InjectNode(Node[InjectConfig]):
    """Sends a message built from its properties: once after deploy, every `repeat` seconds,
    on a `crontab` schedule, or whenever a message arrives at its input (like the editor's button).

    Property values are evaluated when the message is sent, so `date` gives the current time
    and `flow`/`global` the current context. A `msg`-typed property reads the triggering message.
    """

    Config = InjectConfig

    async def on_start(self) -> None:
        if self.config.once:
            self.later(self.config.onceDelay or 0.1, self._once, "once")
        else:
            self._start_schedule()

    def _once(self) -> None:
        self.trigger()
        self._start_schedule()

    def _start_schedule(self) -> None:
        if self.config.repeat > 0:
            self.every(self.config.repeat, self.trigger, "repeat")
        elif self.config.crontab:
            self.create_task(self._cron_loop(Cron.parse(self.config.crontab)), "crontab")

    async def _cron_loop(self, cron: Cron) -> None:
        while True:
            now = datetime.fromtimestamp(self.clock.time())
            await self.clock.sleep((cron.next_after(now) - now).total_seconds())
            try:
                self.trigger()
            except Exception as exc:
                self.error(exc)

    def on_input(self, msg: Msg) -> None:
        self.trigger(msg)

    def trigger(self, incoming: Msg | None = None) -> None:
        """Build the configured message (``msg`` types read ``incoming``) and send it."""
        msg = make_msg()
        del msg["payload"]
        for prop in self._props():
            value, vtype = self._value_of(prop)
            set_path(msg, prop.p, typed_value(self, value, vtype, incoming or msg))
        self.send(msg)

    def _props(self) -> list[InjectProp]:
        if self.config.props is not None:
            return self.config.props
        return [InjectProp(p="payload"), InjectProp(p="topic", vt="str")]

    def _value_of(self, prop: InjectProp) -> tuple[Any, str]:
        has_value = "v" in prop.model_fields_set
        if prop.p == "payload" and not has_value:
            return self.config.payload, self.config.payloadType
        if prop.p == "topic" and prop.vt in (None, "str") and not has_value:
            return self.config.topic, "str"
        return ("" if prop.v is None else prop.v), prop.vt or "str"
