"""The event types the agent's detectors raise: level, snapshot keys and tunable settings of each.

One table drives the config file section (``"events"``), the detector nodes and
the events page. A type's settings are a pydantic model with the type's
defaults; every type is off until the config file enables it (the reference
enables none by default: DI_CHG is switched on from the device's web page).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: Levels of the event service (1.0.9, chapter 5).
LEVELS = {5: "Emergency", 4: "Alert", 3: "Error", 2: "Warning", 1: "Notice"}
#: Every event snapshot carries the position and movement of the vehicle.
POSITION = ("gnss.*",)


class EventSettings(BaseModel):
    """Settings every type has: on or off, and the level its notices carry."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    enabled: bool = Field(default=False, description="raise this type")
    level: int = Field(default=1, ge=1, le=5, description="5 Emergency, 4 Alert, 3 Error, 2 Warning, 1 Notice")


class OverspeedSettings(EventSettings):
    speed: float = Field(default=100, gt=0, le=400, description="limit, km/h: raised above it")
    duration: float = Field(default=5, ge=0, le=3600, description="seconds above the limit before raising")


class AccelerationSettings(EventSettings):
    threshold: float = Field(default=0.4, gt=0, le=16, description="g: raised at or above it")
    duration: float = Field(default=0.3, ge=0, le=10, description="seconds at or above the threshold before raising")


class IdleSettings(EventSettings):
    duration: float = Field(
        default=300, gt=0, le=86400, description="seconds idling (engine on, standing) before raising"
    )


@dataclass(frozen=True)
class EventType:
    """A type (or family, ``OBDII_DTC`` for ``OBDII_DTC_<code>``) as the config file names it."""

    name: str
    level: int
    snapshot: tuple[str, ...]
    fields: str
    what: str
    model: type[EventSettings] = EventSettings
    defaults: dict[str, Any] = field(default_factory=dict)
    clears: bool = False

    def default_settings(self) -> EventSettings:
        return self.model.model_validate({"level": self.level, **self.defaults})


def _acceleration(name: str, level: int, threshold: float, duration: float, what: str) -> EventType:
    return EventType(
        name,
        level,
        (*POSITION, "motion.*", "obd.speed"),
        "`value` (g, the largest in the excursion so far), `threshold` (g)",
        what,
        AccelerationSettings,
        {"threshold": threshold, "duration": duration},
    )


EVENT_TYPES: dict[str, EventType] = {
    t.name: t
    for t in (
        EventType("DI_CHG", 1, (*POSITION, "io.*"), "`key` (the input), `value` (0 or 1)", "a digital input changed"),
        EventType("IGON", 1, (*POSITION, "io.*", "obd.odo", "obd.f_lvl", "obd.b_volt"), "", "ignition turned on"),
        EventType("IGOFF", 1, (*POSITION, "io.*", "obd.odo", "obd.f_lvl", "obd.b_volt"), "", "ignition turned off"),
        EventType(
            "OVERSPEED",
            2,
            (*POSITION, "obd.speed", "obd.rpm"),
            "`speed_limit` (km/h); raise: `speed`; clear: `max_speed` (the highest during the event)",
            "speed above the limit for the duration; cleared when back at or under it",
            OverspeedSettings,
            clears=True,
        ),
        _acceleration(
            "HARSH_ACCELERATION", 2, 0.4, 0.3, "longitudinal acceleration (motion.ax) at or above the threshold"
        ),
        _acceleration("HARSH_BRAKING", 2, 0.5, 0.3, "deceleration (-motion.ax) at or above the threshold"),
        _acceleration("COLLISION", 5, 2.5, 0.0, "horizontal acceleration magnitude at or above the threshold"),
        EventType(
            "IDLE",
            1,
            (*POSITION, "io.igt_status", "obd.rpm", "obd.speed", "obd.c_temp", "obd.f_rate"),
            "`idle_seconds` (how long it has idled; on clear, the whole time)",
            "engine on and standing (under 1 km/h) for the duration; cleared when it moves or the engine stops",
            IdleSettings,
            clears=True,
        ),
        EventType(
            "OBDII_DTC",
            3,
            (*POSITION, "obd.dtcs", "obd.mil", "obd.odo", "obd.rpm", "obd.speed", "obd.c_temp", "obd.vin"),
            "`dtc` (the code), `desc` (its description, '' when unknown)",
            "a new diagnostic trouble code appeared (raised as `OBDII_DTC_<code>`)",
        ),
    )
}

#: What a user-raised event of a type the table does not know carries when its message names no snapshot.
USER_SNAPSHOT = POSITION


def default_events() -> dict[str, EventSettings]:
    return {name: t.default_settings() for name, t in EVENT_TYPES.items()}
