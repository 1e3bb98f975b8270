"""Smart reporting's decisions, without I/O: is the vehicle stationary, and is a group's report due.

:class:`Vehicle` follows position, heading, speed and ignition from value updates.
:class:`Schedule` holds one group's ``report`` object and what it last reported;
``due`` says whether a report goes out now and ``next_check`` when to ask again
(the report node sets a timer for it). Times are the clock's monotonic seconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Stationary: ignition off, or speed under this for :data:`STATIONARY_AFTER` seconds.
STATIONARY_SPEED = 3.0
STATIONARY_AFTER = 10.0
EARTH_RADIUS = 6_371_008.8
#: Slack on time comparisons, so a timer set for an instant counts as reaching it.
EPSILON = 1e-6

Position = tuple[float, float]


def distance_m(a: Position, b: Position) -> float:
    """Great-circle distance in metres between two (latitude, longitude) points in degrees (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS * math.asin(min(1.0, math.sqrt(h)))


def heading_change(a: float, b: float) -> float:
    """The smaller angle between two headings in degrees (0..180)."""
    turn = abs(a - b) % 360
    return min(turn, 360 - turn)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass
class Vehicle:
    """The vehicle as value updates describe it; ``None`` is unknown (invalid or never seen)."""

    ignition_key: str = "io.DI1"
    latitude: float | None = None
    longitude: float | None = None
    heading: float | None = None
    gnss_speed: float | None = None
    obd_speed: float | None = None
    igt_status: float | None = None
    ignition_input: float | None = None
    slow_since: float | None = None

    def update(self, values: Mapping[str, Any], now: float) -> None:
        for key, attr in _TRACKED.items():
            if key in values:
                setattr(self, attr, _number(values[key]))
        if self.ignition_key in values:
            self.ignition_input = _number(values[self.ignition_key])
        speed = self.speed
        if speed is not None:
            slow = speed < STATIONARY_SPEED
            self.slow_since = (self.slow_since if self.slow_since is not None else now) if slow else None

    @property
    def speed(self) -> float | None:
        """km/h: the GNSS speed, or the OBD speed without one."""
        return self.gnss_speed if self.gnss_speed is not None else self.obd_speed

    @property
    def ignition(self) -> float | None:
        """``io.igt_status`` (1.0.9), or the ignition input without it."""
        return self.igt_status if self.igt_status is not None else self.ignition_input

    @property
    def position(self) -> Position | None:
        if self.latitude is None or self.longitude is None:
            return None
        return self.latitude, self.longitude

    def stationary(self, now: float) -> bool:
        """Ignition off, or under 3 km/h for 10 s."""
        if self.ignition == 0:
            return True
        return self.slow_since is not None and now - self.slow_since >= STATIONARY_AFTER - EPSILON

    def stationary_at(self, now: float) -> float | None:
        """When the vehicle becomes stationary if nothing changes (None: it is already, or it is moving)."""
        if self.slow_since is None or self.stationary(now):
            return None
        return self.slow_since + STATIONARY_AFTER


_TRACKED = {
    "gnss.latitude": "latitude",
    "gnss.longitude": "longitude",
    "gnss.heading": "heading",
    "gnss.speed": "gnss_speed",
    "obd.speed": "obd_speed",
    "io.igt_status": "igt_status",
}


@dataclass(frozen=True)
class ReportRule:
    """A group's ``report`` object (see report_rule); 0 disables a condition."""

    max_interval: int = 0
    min_interval: int = 0
    distance: int = 0
    heading: int = 0
    stationary_interval: int = 0


@dataclass
class Schedule:
    """One group's smart reporting: its rule and what its last report saw."""

    rule: ReportRule
    last_at: float
    last_position: Position | None = None
    last_heading: float | None = None
    pending: bool = False

    def due(self, vehicle: Vehicle, now: float) -> bool:
        """True when the group reports now (a trigger held back by ``min_interval`` stays pending)."""
        self.baseline(vehicle)
        if vehicle.stationary(now):
            self.pending = False
            return self._elapsed(now, self.rule.stationary_interval)
        self.pending = self.pending or self._triggered(vehicle, now)
        return self.pending and (self.rule.min_interval == 0 or self._elapsed(now, self.rule.min_interval))

    def _triggered(self, vehicle: Vehicle, now: float) -> bool:
        rule, position, heading = self.rule, vehicle.position, vehicle.heading
        if self._elapsed(now, rule.max_interval):
            return True
        if (
            rule.distance
            and position
            and self.last_position
            and distance_m(self.last_position, position) >= rule.distance
        ):
            return True
        return bool(
            rule.heading
            and heading is not None
            and self.last_heading is not None
            and heading_change(self.last_heading, heading) >= rule.heading
        )

    def _elapsed(self, now: float, seconds: int) -> bool:
        return seconds > 0 and now - self.last_at >= seconds - EPSILON

    def next_check(self, vehicle: Vehicle, now: float) -> float | None:
        """When the timers of the rule next need a look (None: only value updates can make a report due)."""
        rule = self.rule
        if vehicle.stationary(now):
            return self.last_at + rule.stationary_interval if rule.stationary_interval else None
        times = [self.last_at + rule.max_interval] if rule.max_interval else []
        if self.pending:
            times.append(self.last_at + rule.min_interval)
        return min(times) if times else None

    def reported(self, vehicle: Vehicle, now: float) -> None:
        self.last_at, self.last_position, self.last_heading = now, vehicle.position, vehicle.heading
        self.pending = False

    def rebase(self, reported: Mapping[str, Any]) -> None:
        """Count distance and heading from what a report carried (``gnss.latitude``/``longitude``/``heading``,
        where it carried valid ones) rather than from what the report node saw when it decided."""
        lat, lon, heading = (_number(reported.get(key)) for key in ("gnss.latitude", "gnss.longitude", "gnss.heading"))
        if lat is not None and lon is not None:
            self.last_position = (lat, lon)
        if heading is not None:
            self.last_heading = heading

    def baseline(self, vehicle: Vehicle) -> None:
        """Distance and heading count from the first fix when the last report had none."""
        if self.last_position is None:
            self.last_position = vehicle.position
        if self.last_heading is None:
            self.last_heading = vehicle.heading
