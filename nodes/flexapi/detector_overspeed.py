"""``flexapi overspeed detector``: OVERSPEED, raised after the duration above the limit, cleared when back under."""

from __future__ import annotations

from typing import Any

from flowengine.clock import Timer
from flowengine.message import Msg
from flowengine.node import NodeConfig
from nodes.flexapi.detector_base import DetectorNode, number
from nodes.flexapi.event_types import OverspeedSettings
from nodes.flexapi.keycheck import SpeedKey
from nodes.flexapi.messages import values_of


class OverspeedDetectorConfig(NodeConfig):
    speed_key: SpeedKey = "gnss.speed"


class OverspeedDetectorNode(DetectorNode[OverspeedDetectorConfig]):
    """Raises OVERSPEED once the speed has stayed above ``events.OVERSPEED.speed`` for its ``duration``
    seconds, and clears it at the first speed at or under the limit.

    Wire it from ``flexapi values``. An invalid speed stops the count towards a raise
    but never clears a raised event.
    """

    Config = OverspeedDetectorConfig
    event_names = ("OVERSPEED",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.rule = self.settings_of("OVERSPEED", OverspeedSettings)
        self.raised = False
        self.speed = 0.0
        self.peak = 0.0
        self._timer: Timer | None = None

    def on_input(self, msg: Msg) -> None:
        values = values_of(msg)
        if values and self.enabled and self.config.speed_key in values:
            self._speed(number(values[self.config.speed_key]))

    def _speed(self, speed: float | None) -> None:
        if speed is None:
            self._cancel()
        elif speed > self.rule.speed:
            self._over(speed)
        else:
            self._cancel()
            if self.raised:
                self.raised = False
                self.clear_event("OVERSPEED", "OVERSPEED", speed_limit=self.rule.speed, max_speed=self.peak)

    def _over(self, speed: float) -> None:
        counting = self._timer is not None
        self.peak = max(self.peak, speed) if self.raised or counting else speed
        self.speed = speed
        if self.raised or counting:
            return
        if self.rule.duration == 0:
            self._raise()
        else:
            self._timer = self.clock.call_later(self.rule.duration, self._raise)

    def _raise(self) -> None:
        self._timer = None
        self.raised = True
        self.raise_event("OVERSPEED", "OVERSPEED", speed_limit=self.rule.speed, speed=self.speed)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def on_close(self) -> None:
        self._cancel()

    def describe(self) -> str:
        return f"{self.config.speed_key} > {self.rule.speed:g} km/h for {self.rule.duration:g} s"
