"""``inject``: starts a flow on deploy (``once``), on an interval (``repeat``), on a ``crontab`` or on demand."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from flowengine.errors import ExpressionError
from flowengine.message import Msg, make_msg, set_path
from flowengine.node import Node, NodeConfig
from nodes.core import usercode
from nodes.core.cron import Cron
from nodes.core.jsonata import JsonataExpression, compile_jsonata
from nodes.core.typed import JSONATA, VALUE_TYPES, check_static, check_type, typed_value

INJECT_TYPES = VALUE_TYPES | {JSONATA}


def _check_value(value: Any, info: ValidationInfo, type_field: str) -> Any:
    vtype = info.data.get(type_field)
    if vtype == JSONATA and value not in (None, ""):
        compile_jsonata(str(value))  # a syntax error names this field
    return check_static(value, vtype)


#: Node-RED's longest repeat interval (setInterval limit), in seconds.
MAX_REPEAT = 2147483


class InjectProp(NodeConfig):
    """One property the inject node sets on its message."""

    p: str = Field(description="Message property path to set, e.g. `payload` or `topic`.")
    vt: str | None = Field(
        default=None, description="Value type: str, num, bool, json, date, bin, env, msg, flow, global, jsonata."
    )
    v: Any = Field(default=None, description="The value, read according to `vt`.")

    _check_vt = field_validator("vt")(lambda v: check_type(v, INJECT_TYPES))
    _check_v = field_validator("v")(lambda v, info: _check_value(v, info, "vt"))


class InjectConfig(NodeConfig):
    props: list[InjectProp] | None = Field(
        default=None,
        description="Properties to set, in order: each `p` (path), `v` (value) and `vt` (its type). Without it, the "
        "legacy `payload`/`payloadType` and `topic` are used; a `payload` entry without `v` also uses them.",
    )
    payloadType: str = Field(
        default="date",
        description="Type of `payload`: str, num, bool, json, date, bin, env, msg, flow, global, jsonata.",
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
    _check_payload_type = field_validator("payloadType")(lambda v: check_type(v, INJECT_TYPES, "payloadType"))
    _check_payload = field_validator("payload")(lambda v, info: _check_value(v, info, "payloadType"))

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
    A `jsonata` property is an expression over the message built so far (over the triggering
    message); when one fails, the error goes to catch nodes and nothing is sent (Node-RED).
    """

    Config = InjectConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        sources = [v for v, vtype in map(self._value_of, self._props()) if vtype == JSONATA and v]
        self._jsonata: dict[str, JsonataExpression] = {source: compile_jsonata(source) for source in sources}

    async def on_start(self) -> None:
        if any(not e.in_process for e in self._jsonata.values()):
            usercode.attach(self)
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
                result = self.trigger()
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                self.error(exc)

    async def on_close(self) -> None:
        await usercode.detach(self)

    def on_input(self, msg: Msg) -> Awaitable[None] | None:
        return self.trigger(msg)

    def trigger(self, incoming: Msg | None = None) -> Awaitable[None] | None:
        """Build the configured message (``msg`` types read ``incoming``) and send it."""
        if self._jsonata:
            return self._trigger_with_jsonata(incoming)
        msg = make_msg()
        del msg["payload"]
        for prop in self._props():
            value, vtype = self._value_of(prop)
            set_path(msg, prop.p, typed_value(self, value, vtype, incoming or msg))
        self.send(msg)
        return None

    async def _trigger_with_jsonata(self, incoming: Msg | None) -> None:
        msg = make_msg()
        del msg["payload"]
        errors: list[str] = []
        for prop in self._props():
            value, vtype = self._value_of(prop)
            if vtype != JSONATA:
                set_path(msg, prop.p, typed_value(self, value, vtype, incoming or msg))
            elif value:
                try:
                    set_path(msg, prop.p, await self._jsonata[value].evaluate(self, {**(incoming or {}), **msg}))
                except ExpressionError as exc:
                    errors.append(str(exc))
        if errors:
            usercode.report(self, ExpressionError("; ".join(errors)), incoming or msg)
            return
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
