"""``flexapi motion detector``: HARSH_ACCELERATION, HARSH_BRAKING or COLLISION from accelerometer samples."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import Field

from flowengine.message import Msg
from flowengine.node import NodeConfig
from nodes.flexapi.detector_base import DetectorNode, number
from nodes.flexapi.event_types import AccelerationSettings
from nodes.flexapi.report_plan import EPSILON

#: Samples per second a motion detector asks the motion source for while enabled.
SAMPLE_RATE = 10.0
MotionEvent = Literal["HARSH_ACCELERATION", "HARSH_BRAKING", "COLLISION"]


def measure(event: str, sample: dict[str, Any]) -> float | None:
    """g of a sample as ``event`` measures it: ax, -ax (braking) or the horizontal magnitude; None if invalid."""
    ax, ay = number(_axis(sample, "ax")), number(_axis(sample, "ay"))
    if ax is None:
        return None
    if event == "HARSH_ACCELERATION":
        return ax
    if event == "HARSH_BRAKING":
        return -ax
    return None if ay is None else math.hypot(ax, ay)


def _axis(sample: dict[str, Any], axis: str) -> Any:
    return sample.get(f"motion.{axis}", sample.get(axis))


def accelerations(sample: dict[str, Any]) -> dict[str, float]:
    """The sample's valid ``motion.ax``/``ay``/``az``: the snapshot of the event it raises shows them."""
    found = {f"motion.{axis}": number(_axis(sample, axis)) for axis in ("ax", "ay", "az")}
    return {key: value for key, value in found.items() if value is not None}


def samples_of(payload: Any) -> Iterable[dict[str, Any]]:
    """The samples of a message: one object, or a list of them (oldest first)."""
    items = payload if isinstance(payload, list) else [payload]
    return [item for item in items if isinstance(item, dict)]


class MotionDetectorConfig(NodeConfig):
    event: MotionEvent = Field(description="the event raised: HARSH_ACCELERATION, HARSH_BRAKING or COLLISION")


class MotionDetectorNode(DetectorNode[MotionDetectorConfig]):
    """Raises its ``event`` once the acceleration has stayed at or above ``events.<event>.threshold`` g
    for its ``duration`` seconds (fields ``value``: the largest g so far, ``threshold``).

    ``motion.ax`` is longitudinal (positive speeding up, negative braking); COLLISION
    measures ``hypot(motion.ax, motion.ay)``. One event per excursion: it re-arms
    when the acceleration drops under the threshold. Wire it from the motion
    source's samples output: each message ``{payload: {"motion.ax": g, "motion.ay": g, ...}}``
    or a list of such samples; ``samples_wanted()`` asks for 10 per second while enabled.
    The notice's ``motion.ax``/``ay``/``az`` are those of the sample that raised it.
    """

    Config = MotionDetectorConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.rule = self.settings_of(self.config.event, AccelerationSettings)
        self.since: float | None = None
        self.peak = 0.0
        self.fired = False

    def names(self) -> tuple[str, ...]:
        return (self.config.event,)

    def samples_wanted(self) -> float:
        """Samples per second this node needs from the motion source (0 while disabled)."""
        return SAMPLE_RATE if self.enabled else 0.0

    def on_input(self, msg: Msg) -> None:
        if not self.enabled:
            return
        for sample in samples_of(msg.get("payload")):
            self._sample(measure(self.config.event, sample), number(sample.get("motion.t")), sample)

    def _sample(self, g: float | None, taken_at: float | None, sample: dict[str, Any]) -> None:
        """``taken_at``: the sample's own time; samples arrive in blocks (a buffered IMU wakes once a
        second), so the time of arrival would squeeze a second of samples into an instant."""
        if g is None or g < self.rule.threshold:
            self.since, self.peak, self.fired = None, 0.0, False
            return
        now = self.clock.time() if taken_at is None else taken_at
        if self.since is None:
            self.since = now
        self.peak = max(self.peak, g)
        if not self.fired and now - self.since >= self.rule.duration - EPSILON:
            self.fired = True
            fields = {"value": round(self.peak, 3), "threshold": self.rule.threshold}
            self.raise_event(self.config.event, self.config.event, values=accelerations(sample), **fields)

    def describe(self) -> str:
        return f">= {self.rule.threshold:g} g for {self.rule.duration:g} s"
