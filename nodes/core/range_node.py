"""``range``: maps a number from one range to another (scale, clamp, roll or drop)."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, field_validator

from flowengine.message import Msg, get_path, has_path, set_path
from flowengine.node import Node, NodeConfig
from nodes.core.jsvalue import js_num


class RangeConfig(NodeConfig):
    minin: float = Field(description="Input range: low end.")
    maxin: float = Field(description="Input range: high end.")
    minout: float = Field(description="Output range: low end.")
    maxout: float = Field(description="Output range: high end.")
    action: Literal["scale", "clamp", "roll", "drop"] = Field(
        default="scale",
        description='"scale": map linearly (values outside the input range land outside the output range); '
        '"clamp": limit to the input range first; "roll": wrap around within the input range; '
        '"drop": drop messages outside the input range.',
    )
    round: bool = Field(default=False, description="Round the result to the nearest integer.")
    property: str = Field(default="payload", description="The property holding the number.")

    _action = field_validator("action", mode="before")(lambda v: v or "scale")
    _property = field_validator("property", mode="before")(lambda v: v or "payload")

    @field_validator("minin", "maxin", "minout", "maxout", mode="before")
    @classmethod
    def _number(cls, value: Any, info: Any) -> float:
        number = js_num(value) if value not in ("", None) else None
        if number is None:
            raise ValueError(f"{info.field_name} must be a number, got {value!r}")
        return number


class RangeNode(Node[RangeConfig]):
    """Maps the number in `property` from [minin, maxin] to [minout, maxout]. "clamp" limits the
    input to its range first, "roll" wraps it around, "drop" discards messages outside it; `round`
    gives whole numbers. A value that is not a number is logged and the message dropped; a message
    without the property passes unchanged.
    """

    Config = RangeConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        cfg = self.config
        self.minin, self.maxin, self.minout, self.maxout = cfg.minin, cfg.maxin, cfg.minout, cfg.maxout
        if self.minin > self.maxin:
            self.minin, self.maxin, self.minout, self.maxout = self.maxin, self.minin, self.maxout, self.minout
        if cfg.round:
            self.maxout, self.minout = math.floor(self.maxout), math.ceil(self.minout)

    def on_input(self, msg: Msg) -> None:
        if not has_path(msg, self.config.property):
            self.send(msg)
            return
        value = get_path(msg, self.config.property)
        number = js_num(value) if not isinstance(value, (dict, list)) else None
        if number is None:
            self.log.info("not a number: %r", value)
            return
        result = self.map(number)
        if result is not None:
            set_path(msg, self.config.property, result)
            self.send(msg)

    def map(self, n: float) -> float | int | None:
        """The mapped value of ``n``; None when "drop" discards it."""
        action = self.config.action
        if action == "drop" and not self.minin <= n <= self.maxin:
            return None
        if action == "clamp":
            n = min(max(n, self.minin), self.maxin)
        elif action == "roll":
            divisor = self.maxin - self.minin  # JavaScript's % keeps the dividend's sign, as fmod does
            n = math.fmod(math.fmod(n - self.minin, divisor) + divisor, divisor) + self.minin if divisor else math.nan
        span_in, span_out = self.maxin - self.minin, self.maxout - self.minout
        value = (n - self.minin) / span_in * span_out + self.minout if span_in else math.nan
        if self.config.round:
            return _js_round(value)
        return int(value) if value.is_integer() else value


def _js_round(value: float) -> float | int:
    """``Math.round``: halves go up (towards +Infinity)."""
    return math.floor(value + 0.5) if math.isfinite(value) else value
