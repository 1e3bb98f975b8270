"""``trigger``: sends one message, then a second after a time unless reset or extended."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from flowengine.clock import Timer
from flowengine.message import Msg, clone, get_path
from flowengine.node import Node, NodeConfig
from nodes.core.jsvalue import js_num, js_str
from nodes.core.typed import VALUE_TYPES, check_static, check_type, typed_value

UNITS = {"ms": 0.001, "s": 1.0, "min": 60.0, "hr": 3600.0}
OP1_TYPES = VALUE_TYPES | {"pay", "nul", "val", "null"}
OP2_TYPES = OP1_TYPES | {"payl"}
_TEMPLATE = re.compile(r"\{\{(\{?)\s*([^{}]+?)\s*\}?\}\}")


def render(template: str, msg: Msg) -> str:
    """Mustache-style ``{{payload}}`` (HTML-escaped) and ``{{{payload}}}`` substitution from ``msg``."""

    def value(match: re.Match[str]) -> str:
        found = get_path(msg, match.group(2))
        text = "" if found is None else js_str(found)
        return text if match.group(1) else html.escape(text)

    return _TEMPLATE.sub(value, template)


class TriggerConfig(NodeConfig):
    op1type: str = Field(
        default="str",
        description="Type of `op1`: str, num, bool, json, date, env, flow, global, pay (the incoming payload), nul (send nothing).",
    )
    op1: Any = Field(default="1", description="The payload sent at once; a str may use `{{payload}}`-style templates.")
    op2type: str = Field(
        default="str",
        description="Type of `op2`: as `op1type`, plus payl (the latest message received); pay is the first payload.",
    )
    op2: Any = Field(default="0", description="The payload sent when the time runs out.")
    duration: float = Field(
        default=250,
        description="Time before the second message; 0: send once, then wait for a reset; negative: resend op1 every |duration|.",
    )
    units: Literal["ms", "s", "min", "hr"] = Field(default="ms", description="Unit of `duration`: ms, s, min or hr.")
    extend: bool = Field(
        default=False, description="Each new message restarts the time (and becomes the latest message)."
    )
    overrideDelay: bool = Field(default=False, description="`msg.delay` (milliseconds) overrides `duration`.")
    reset: str = Field(
        default="", description="A payload equal to this (as text) resets the node, as `msg.reset` does."
    )
    bytopic: Literal["all", "topic"] = Field(default="all", description='"topic": a separate trigger for each topic.')
    topic: str = Field(default="topic", description='The message property that names the topic (bytopic "topic").')
    outputs: Literal[1, 2] = Field(default=1, description="2: the second message leaves by output 2.")

    _outputs = field_validator("outputs", mode="before")(lambda v: 1 if v in ("", None) else int(v))
    _duration = field_validator("duration", mode="before")(lambda v: 250 if v in ("", None) else v)
    _blank_op1 = field_validator("op1", mode="before")(lambda v: "1" if v in ("", None) else v)
    _blank_op2 = field_validator("op2", mode="before")(lambda v: "0" if v in ("", None) else v)
    _reset = field_validator("reset", mode="before")(lambda v: "" if v is None else js_str(v))
    _topic = field_validator("topic", mode="before")(lambda v: v or "topic")

    _op1type = field_validator("op1type", mode="before")(lambda v: check_type(v or "str", OP1_TYPES, "op1type"))
    _op2type = field_validator("op2type", mode="before")(lambda v: check_type(v or "str", OP2_TYPES, "op2type"))
    _op1 = field_validator("op1")(lambda v, info: check_static(v, info.data.get("op1type")))
    _op2 = field_validator("op2")(lambda v, info: check_static(v, info.data.get("op2type")))

    @model_validator(mode="after")
    def _legacy_values(self) -> TriggerConfig:
        for name in ("op1", "op2"):
            value, vtype = getattr(self, name), getattr(self, f"{name}type")
            if vtype == "val":  # Node-RED's old "value" type
                vtype = "bool" if value in ("true", "false") else "null" if value == "null" else "str"
            if vtype == "date" and value in ("1", "0"):
                value = ""  # the defaults mean "now"
            setattr(self, name, value)
            setattr(self, f"{name}type", vtype)
        return self

    @property
    def seconds(self) -> float:
        return abs(self.duration) * UNITS[self.units]


@dataclass
class _Topic:
    """What the node remembers about one topic between its two messages."""

    timer: Timer | None = None
    m2: Any = None
    latest: Msg | None = None


class TriggerNode(Node[TriggerConfig]):
    """On a message, sends `op1` at once, then `op2` after `duration`; messages arriving in
    between are ignored (or, with `extend`, restart the time). `msg.reset`, or a payload equal
    to `reset`, cancels the pending second message. With `duration` 0 it sends once and waits
    for a reset; with a negative `duration` it repeats `op1` until reset. With bytopic "topic"
    each topic is handled on its own.
    """

    Config = TriggerConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.topics: dict[Any, _Topic] = {}

    @classmethod
    def output_count(cls, config: NodeConfig) -> int:
        assert isinstance(config, TriggerConfig)
        return config.outputs

    def on_input(self, msg: Msg) -> None:
        topic = self._topic_of(msg)
        if self._is_reset(msg):
            self._forget(topic)
            return
        state = self.topics.get(topic)
        if self.config.op2type == "payl" and state is not None:
            state.latest = clone(msg)
        if state is None or self.config.duration < 0:
            self._start(topic, msg)
        elif self.config.extend and self._delay(msg) > 0:
            self._extend(topic, state, msg)

    def _start(self, topic: Any, msg: Msg) -> None:
        cfg = self.config
        state = self.topics.get(topic) or _Topic()
        state.latest = clone(msg)
        state.m2 = self._second_value(msg)
        if cfg.op1type != "pay" and cfg.op1type != "nul":
            msg["payload"] = self._value(cfg.op1, cfg.op1type, msg)
        self.topics[topic] = state
        delay = self._delay(msg)
        if state.timer:
            state.timer.cancel()
            state.timer = None
        if cfg.duration < 0 and delay > 0:
            if cfg.op1type != "nul":
                state.timer = self._later(delay, self._repeat, topic, clone(msg), delay)
        elif delay > 0:
            state.timer = self._later(delay, self._fire, topic, msg)
        self._show()
        if cfg.op1type != "nul":
            self.send(clone(msg))

    def _extend(self, topic: Any, state: _Topic, msg: Msg) -> None:
        if self.config.op2type == "payl":
            state.m2 = clone(msg.get("payload"))
        if state.timer:
            state.timer.cancel()
        state.timer = self._later(self._delay(msg), self._fire, topic, msg, True)

    def _fire(self, topic: Any, msg: Msg, extended: bool = False) -> None:
        """Time is up: send the second message (unless op2 is nul) and forget the topic."""
        cfg = self.config
        state = self.topics.pop(topic, None)
        self._show()
        if state is None or cfg.op2type == "nul":
            return
        if cfg.op2type == "payl" and not extended:
            out = state.latest
        else:
            out = clone(msg)
            fresh = cfg.op2type in ("flow", "global", "date")
            out["payload"] = self._value(cfg.op2, cfg.op2type, msg) if fresh else state.m2
        if out is not None:
            self.send([None, out] if cfg.outputs == 2 else out)

    def _repeat(self, topic: Any, msg: Msg, delay: float) -> None:
        state = self.topics.get(topic)
        if state is None:
            return
        if self.config.op1type == "date":
            msg["payload"] = self._value(self.config.op1, "date", msg)
        self.send(clone(msg))
        state.timer = self._later(delay, self._repeat, topic, msg, delay)

    def _second_value(self, msg: Msg) -> Any:
        cfg = self.config
        if cfg.op2type == "pay":
            return clone(msg.get("payload"))
        if cfg.op2type in ("nul", "payl"):
            return None
        return self._value(cfg.op2, cfg.op2type, msg)

    def _value(self, value: Any, vtype: str, msg: Msg) -> Any:
        if vtype == "null":
            return None
        if vtype == "str" and "{{" in str(value):
            return render(str(value), msg)
        return typed_value(self, value, vtype, msg)

    def _later(self, seconds: float, action: Any, *args: Any) -> Timer:
        def run() -> None:
            try:
                action(*args)
            except Exception as exc:  # a timer must not lose the error
                self.error(exc, next((a for a in args if isinstance(a, dict)), None))

        return self.clock.call_later(seconds, run)

    def _delay(self, msg: Msg) -> float:
        if self.config.overrideDelay and "delay" in msg:
            ms = js_num(msg["delay"]) if not isinstance(msg["delay"], bool) else None
            if ms is not None:
                return abs(ms) / 1000
        return self.config.seconds

    def _topic_of(self, msg: Msg) -> Any:
        if self.config.bytopic == "all":
            return "_none"
        topic = get_path(msg, self.config.topic)
        return topic if isinstance(topic, (str, int, float, bool)) and topic != "" else "_none"

    def _is_reset(self, msg: Msg) -> bool:
        if "reset" in msg:
            return True
        payload = msg.get("payload")
        return self.config.reset != "" and payload is not None and js_str(payload) == self.config.reset

    def _forget(self, topic: Any) -> None:
        state = self.topics.pop(topic, None)
        if state and state.timer:
            state.timer.cancel()
        self._show()

    def _show(self) -> None:
        count = len(self.topics)
        if count == 0:
            self.status()
        else:
            self.status("blue", "dot", str(count) if count > 1 else "")

    async def on_close(self) -> None:
        for topic in list(self.topics):
            self._forget(topic)
