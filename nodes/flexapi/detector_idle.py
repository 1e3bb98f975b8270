"""``flexapi idle detector``: IDLE, raised after the engine has run with the vehicle standing, cleared when that ends."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from flowengine.clock import Timer
from flowengine.message import Msg
from flowengine.node import NodeConfig
from nodes.flexapi.detector_base import IGT_STATUS, DetectorNode, number, on_off
from nodes.flexapi.event_types import IdleSettings
from nodes.flexapi.keycheck import ParamKey, SpeedKey
from nodes.flexapi.messages import values_of

#: Standing: under this speed, km/h (GNSS speed is never exactly 0 while parked).
IDLE_SPEED = 1.0
RPM = "obd.rpm"


class IdleDetectorConfig(NodeConfig):
    speed_key: SpeedKey = "gnss.speed"
    ignition_key: ParamKey = Field(
        default="io.DI1", description="the ignition input: the engine counts as on with it while obd.rpm is unknown"
    )


class IdleDetectorNode(DetectorNode[IdleDetectorConfig]):
    """Raises IDLE when the engine has been on and the vehicle standing (under 1 km/h) for
    ``events.IDLE.duration`` seconds; clears it when the vehicle moves or the engine stops.

    Wire it from ``flexapi values``. The engine is on when ``obd.rpm`` > 0; without a
    valid rpm, when the ignition (``io.igt_status``, else ``ignition_key``) is on.
    While a value it needs is unknown, the state stays as it was.
    """

    Config = IdleDetectorConfig
    event_names = ("IDLE",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.duration = self.settings_of("IDLE", IdleSettings).duration
        self.known: dict[str, float | None] = {}
        self.idle_since: float | None = None
        self.raised = False
        self._timer: Timer | None = None

    def on_input(self, msg: Msg) -> None:
        values = values_of(msg)
        if not values or not self.enabled:
            return
        for key in (RPM, IGT_STATUS, self.config.ignition_key, self.config.speed_key):
            if key in values:
                self.known[key] = number(values[key])
        idle = self.idling()
        if idle is True and self.idle_since is None:
            self._start()
        elif idle is False and self.idle_since is not None:
            self._stop()

    def idling(self) -> bool | None:
        """Engine on and standing; None while that cannot be told."""
        speed, engine = self.known.get(self.config.speed_key), self.engine_on()
        if speed is None or engine is None:
            return None
        return engine and speed < IDLE_SPEED

    def engine_on(self) -> bool | None:
        rpm = self.known.get(RPM)
        if rpm is not None:
            return rpm > 0
        ignition = on_off(self.known.get(IGT_STATUS))
        ignition = ignition if ignition is not None else on_off(self.known.get(self.config.ignition_key))
        return None if ignition is None else ignition == 1

    def _start(self) -> None:
        self.idle_since = self.clock.now()
        self._timer = self.clock.call_later(self.duration, self._raise)

    def _raise(self) -> None:
        self._timer = None
        self.raised = True
        self.raise_event("IDLE", "IDLE", idle_seconds=self._idle_seconds())

    def _stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.raised:
            self.raised = False
            self.clear_event("IDLE", "IDLE", idle_seconds=self._idle_seconds())
        self.idle_since = None

    def _idle_seconds(self) -> int:
        return round(self.clock.now() - (self.idle_since or 0.0))

    async def on_close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def describe(self) -> str:
        return f"idle (engine on, < {IDLE_SPEED:g} km/h) for {self.duration:g} s"
