"""``rbe`` (filter): report by exception; passes a message only when its value changed enough."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from flowengine.message import Msg, clone, get_path, has_path
from flowengine.node import Node, NodeConfig
from nodes.core.jsvalue import js_parse_float, js_string, js_truthy, strict_equal

_NO_TOPIC = "_no_topic"


class RbeConfig(NodeConfig):
    func: Literal["rbe", "rbei", "deadband", "deadbandEq", "narrowband", "narrowbandEq"] = Field(
        default="rbe",
        description='"rbe": block unless the value changes; "rbei": same, ignoring the first value; '
        '"deadband" / "deadbandEq": pass when it moved more than (or at least) `gap`; '
        '"narrowband" / "narrowbandEq": block when it moved more than (or at least) `gap`.',
    )
    gap: str = Field(default="0", description='The band: a number, or a percentage of the last value ("10%").')
    start: str = Field(default="", description="narrowband: the value to compare the first message with.")
    inout: Literal["in", "out"] = Field(
        default="out", description='Compare with the last value "out" (sent) or "in" (received).'
    )
    septopics: bool = Field(default=True, description="Keep a separate last value per `topi` (topic).")
    property: str = Field(default="payload", description="The property to watch.")
    topi: str = Field(default="topic", description="The property that names the topic.")

    _func = field_validator("func", mode="before")(lambda v: v or "rbe")
    _gap = field_validator("gap", mode="before")(lambda v: "0" if v in ("", None) else js_string(v))
    _start = field_validator("start", mode="before")(lambda v: "" if v is None else js_string(v))
    _inout = field_validator("inout", mode="before")(lambda v: v or "out")
    _septopics = field_validator("septopics", mode="before")(lambda v: v is not False)
    _property = field_validator("property", mode="before")(lambda v: v or "payload")
    _topi = field_validator("topi", mode="before")(lambda v: v or "topic")

    @field_validator("gap", "start")
    @classmethod
    def _number(cls, value: str, info: Any) -> str:
        text = value.strip().removesuffix("%") if info.field_name == "gap" else value.strip()
        if text:
            try:
                float(text)
            except ValueError:
                raise ValueError(f"{info.field_name} must be a number, got {value!r}") from None
        return value


class RbeNode(Node[RbeConfig]):
    """Passes a message only when `property` changed: "rbe" on any change (objects compared
    deeply), "rbei" the same but not for the first value; the deadband modes when a number
    moved by more than `gap` (a number or "10%" of the last value), the narrowband modes
    when it stayed within it. Each topic keeps its own last value unless `septopics` is false.
    `msg.reset` forgets the last value (of the message's topic, or all).
    """

    Config = RbeConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.previous: dict[Any, Any] = {}
        gap = self.config.gap.strip()
        self.percent = gap.endswith("%")
        self.gap = float(gap.removesuffix("%") or 0)

    def on_input(self, msg: Msg) -> None:
        topic = get_path(msg, self.config.topi)
        if "reset" in msg:
            self._reset(topic, msg.get("topic"))
        if not has_path(msg, self.config.property):
            return
        value = get_path(msg, self.config.property)
        key = js_string(topic) if self.config.septopics and js_truthy(topic) else _NO_TOPIC
        if self.config.func in ("rbe", "rbei"):
            self._on_change(key, value, msg)
        else:
            self._on_band(key, value, msg)

    def _reset(self, topic: Any, msg_topic: Any) -> None:
        if self.config.septopics and isinstance(topic, str) and topic:
            self.previous.pop(js_string(msg_topic), None)  # Node-RED forgets msg.topic, whatever `topi` is
        else:
            self.previous.clear()

    def _on_change(self, key: Any, value: Any, msg: Msg) -> None:
        send = self.config.func == "rbe" or key in self.previous
        if isinstance(value, (dict, list)) or value is None:  # typeof "object" (null too)
            if not isinstance(self.previous.get(key, {}), (dict, list)) or key not in self.previous:
                self.previous[key] = {}
            changed = not strict_equal(value, self.previous[key])
        else:
            changed = key not in self.previous or not strict_equal(value, self.previous[key])
        if changed:
            self.previous[key] = clone(value)
            if send:
                self.send(msg)

    def _on_band(self, key: Any, value: Any, msg: Msg) -> None:
        number = js_parse_float(value)
        if number is None:
            self.log.warning("%s is not a number; ignored", self.config.property)
            return
        func, previous = self.config.func, self.previous.get(key)
        if previous is None and func in ("narrowband", "narrowbandEq"):
            previous = js_parse_float(self.config.start) if self.config.start.strip() else number
        gap = self.gap
        if self.percent:  # of the last value; none yet: 0
            gap = abs(previous * self.gap / 100) if previous is not None else 0.0
        if previous is None:
            previous = number - gap - 1
        difference = abs(number - previous)
        passes = {
            "deadband": difference > gap,
            "deadbandEq": difference >= gap,
            "narrowband": difference <= gap,
            "narrowbandEq": difference < gap,
        }[func]
        self.previous[key] = number if (passes or self.config.inout == "in") else previous
        if passes:
            self.send(msg)
