"""``delay``: delays each message, or limits the rate of messages, with a bounded queue."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from flowengine.message import Msg
from flowengine.node import Node, NodeConfig
from nodes.core.delay_modes import DelayMode, RateMode, TimerMode, TopicMode

TIME_UNITS = {"milliseconds": 0.001, "seconds": 1.0, "minutes": 60.0, "hours": 3600.0, "days": 86400.0}
RATE_UNITS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}


class DelayConfig(NodeConfig):
    pauseType: Literal["delay", "delayv", "random", "rate", "queue", "timed"] = Field(
        default="delay",
        description='"delay": fixed delay; "delayv": `msg.delay` ms (else `timeout`); "random": between randomFirst and '
        'randomLast; "rate": rate limit; "queue": one message per topic per interval, oldest topic first; '
        '"timed": every interval, send the newest message of each topic.',
    )
    timeout: float = Field(default=5, ge=0, description="The delay, in `timeoutUnits`.")
    timeoutUnits: str = Field(default="seconds", description="milliseconds, seconds, minutes, hours or days.")
    rate: float = Field(default=1, gt=0, description="Messages allowed per `nbRateUnits` `rateUnits`.")
    nbRateUnits: float = Field(
        default=1, description="How many `rateUnits` the rate counts over (values below 1 mean 1)."
    )
    rateUnits: str = Field(default="second", description="second, minute, hour or day.")
    randomFirst: float = Field(default=1, ge=0, description="Shortest random delay, in `randomUnits`.")
    randomLast: float = Field(default=5, ge=0, description="Longest random delay, in `randomUnits`.")
    randomUnits: str = Field(default="seconds", description="milliseconds, seconds, minutes, hours or days.")
    drop: bool = Field(default=False, description="Rate limit: drop messages over the rate instead of queueing them.")
    outputs: Literal[1, 2] = Field(
        default=1, description="2: messages over the rate (drop) or replaced in a topic queue leave by output 2."
    )
    allowrate: bool = Field(
        default=False, description="Rate limit: `msg.rate` (milliseconds between messages) overrides the rate."
    )
    maxQueue: int = Field(
        default=1000,
        ge=1,
        description="Most messages held at once (queue or pending delays); when full the oldest is dropped and counted.",
    )

    @field_validator("timeout", "rate", "nbRateUnits", "randomFirst", "randomLast", mode="before")
    @classmethod
    def _numbers(cls, value: Any, info: Any) -> Any:
        if value in ("", None):
            return cls.model_fields[info.field_name].default
        return value

    @field_validator("timeoutUnits", "randomUnits")
    @classmethod
    def _time_unit(cls, value: str) -> str:
        if value not in TIME_UNITS:
            raise ValueError(f"unknown unit {value!r}; expected {', '.join(TIME_UNITS)}")
        return value

    @field_validator("rateUnits")
    @classmethod
    def _rate_unit(cls, value: str) -> str:
        if value not in RATE_UNITS:
            raise ValueError(f"unknown unit {value!r}; expected {', '.join(RATE_UNITS)}")
        return value

    @field_validator("outputs", mode="before")
    @classmethod
    def _outputs(cls, value: Any) -> Any:
        return 1 if value in ("", None) else int(value)

    @property
    def delay_seconds(self) -> float:
        return self.timeout * TIME_UNITS[self.timeoutUnits]

    @property
    def interval_seconds(self) -> float:
        """Seconds between messages at the configured rate."""
        return RATE_UNITS[self.rateUnits] * max(self.nbRateUnits, 1) / self.rate

    @property
    def random_seconds(self) -> tuple[float, float]:
        scale = TIME_UNITS[self.randomUnits]
        return self.randomFirst * scale, self.randomLast * scale


class DelayNode(Node[DelayConfig]):
    """Delays messages or limits their rate, as Node-RED's delay node.

    Delay modes hold each message for a time; `msg.reset` drops everything held; `msg.flush`
    sends what is held now (all, or the first `msg.flush` messages). Rate modes send at most
    one message per interval: queued (order kept, `msg.toFront` jumps the queue), dropped
    (optionally to output 2) or one per topic. Whatever is held is bounded by `maxQueue`:
    when full the oldest message is dropped; drops are counted, logged and shown in the
    status next to the queue length.
    """

    Config = DelayConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.mode = _mode_for(self)

    @classmethod
    def output_count(cls, config: NodeConfig) -> int:
        assert isinstance(config, DelayConfig)
        return config.outputs

    def on_input(self, msg: Msg) -> None:
        self.mode.handle(msg)

    async def on_close(self) -> None:
        self.mode.close()


def _mode_for(node: DelayNode) -> DelayMode:
    kind = node.config.pauseType
    if kind in ("delay", "delayv", "random"):
        return TimerMode(node)
    if kind == "rate":
        return RateMode(node)
    return TopicMode(node)
