"""A seeded synthetic drive: trips of stop-and-go and cruising with curves, turns and parking.

The driver is a small state machine advanced in fixed steps by :class:`~.vehicle.Vehicle`;
every random draw comes from the vehicle's seeded generator, so the route at time *t*
depends only on the seed and the orders given before *t* (:meth:`SyntheticRoute.order`:
a cruise speed, a hard stop, a stop of some seconds, the key). Orders change what the
driver aims for, never the state itself: speed still ramps with bounded acceleration,
and the engine still cranks before it runs.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from nodes.sources.sim.geo import move

#: Cruise targets in km/h (urban, arterial, rural, motorway) and their weights.
CRUISE_KMH = (30.0, 50.0, 50.0, 70.0, 90.0, 110.0)
MAX_LAT_ACCEL = 3.0  # m/s², comfort limit for curves
TURN_RATE = 14.0  # deg/s at junctions
GRAVITY = 9.80665
MASS_KG = 1450.0
DRIVE_POWER_W = 99_000.0  # 90 % of the engine's 110 kW reach the wheels
RESISTANCE = (0.012 * MASS_KG * GRAVITY, 0.5 * 1.2 * 0.65)  # rolling (N), drag (N per (m/s)²)
ORDERED_ACCEL = 2.0  # m/s², how briskly the driver reaches an ordered speed (slowing down: 2.5)
STOP_ACCEL_LIMIT = 1.5  # an ordered stop brakes at most 2 m/s² (the limit + 0.5), an ordinary stop
ROLL_OUT_DECEL = 3.0  # m/s², braking to a halt after the engine stopped
HARD_STOP_REST_S = 3.0  # standing still after a hard stop before driving on
CRANK_S = 2.0


@dataclass
class Pose:
    """Where the vehicle is and what the driver does with the key (shared by route and replay)."""

    lat: float
    lon: float
    alt: float
    speed: float = 0.0  # m/s
    heading: float = 0.0  # deg clockwise from north
    ignition: bool = True
    engine_on: bool = False
    cranking: bool = False
    parking_brake: bool = True
    distance_m: float = 0.0  # travelled since the model started


class SyntheticRoute:
    """Drives trips of 25-40 minutes separated by a few minutes parked with the ignition off.

    The model starts inside the first trip: ignition on, engine idling, parking brake set,
    so every source has valid values from the first second. A trip ends with the engine
    stopped and the ignition still on for a few seconds (the ECU still answers), then the
    ignition goes off; the next trip cranks for 2 s (ignition on, engine off) before idling.
    """

    def __init__(self, rng: random.Random, lat: float, lon: float, alt: float) -> None:
        self.rng = rng
        self.pose = Pose(lat, lon, alt, heading=rng.uniform(0.0, 360.0), engine_on=True)
        self.base_alt = alt
        self.terrain_phase = rng.uniform(0.0, 2 * math.pi)
        self.mode, self.left = "idle", rng.uniform(3.0, 8.0)
        self.target = 0.0
        self.accel_limit = 1.5
        self.curve_rate = 0.0
        self.curve_left = 0.0
        self.turn_left = 0.0
        self.trip_left = rng.uniform(1500.0, 2400.0)
        self.cruise: float | None = None  # ordered speed (m/s); None: the driver chooses
        self.hold: float | None = None  # ordered standstill (s), counted once stopped
        self.holding = False  # standing still as ordered (or resting after a hard stop)
        self.hard_decel = 0.0  # m/s² of the hard stop in progress

    def advance(self, dt: float) -> None:
        self.left -= dt
        self.trip_left -= dt
        getattr(self, f"_{self.mode}")()
        self._drive_speed(dt)
        self._steer(dt)
        p = self.pose
        step = p.speed * dt
        p.lat, p.lon = move(p.lat, p.lon, p.heading, step)
        p.distance_m += step
        p.alt = self.altitude_at(p.distance_m)

    def altitude_at(self, distance: float) -> float:
        """Rolling terrain along the route (a few percent grade at most)."""
        ph = self.terrain_phase
        return self.base_alt + 35.0 * math.sin(distance / 1800.0 + ph) + 9.0 * math.sin(distance / 370.0 + 2 * ph)

    # -- orders -------------------------------------------------------------------------

    def order(self, key: str, value: object) -> None:
        """Apply one validated order: ``target_speed`` (km/h or None), ``ignition``, ``brake`` (g), ``stop`` (s)."""
        getattr(self, f"_order_{key}")(value)

    def _order_target_speed(self, kmh: float | None) -> None:
        self.cruise = None if kmh is None else kmh / 3.6
        if self.cruise is None or self.holding or self.hold is not None:
            return  # an ordered standstill finishes first
        if not self.pose.ignition or self.mode == "key_on":
            self._key_on_and_crank()
        elif self.mode in ("idle", "stop"):
            self._new_leg()
        elif self.mode == "drive":
            self._aim()

    def _order_ignition(self, on: int) -> None:
        p = self.pose
        if on and (not p.ignition or self.mode == "key_on"):
            self._key_on_and_crank()
        elif not on and p.ignition:
            p.ignition = p.engine_on = p.cranking = False
            self.cruise = self.hold = None
            self.holding = False
            self.mode, self.left = "parked", 0.0

    def _order_brake(self, g: float) -> None:
        if self.pose.engine_on and self.pose.speed > 0.0:
            self.mode, self.hard_decel = "hard_stop", g * GRAVITY

    def _order_stop(self, seconds: float) -> None:
        self.hold = seconds
        if not self.pose.ignition or self.mode == "key_on":
            self._key_on_and_crank()
        elif self.mode in ("crank", "hard_stop"):
            pass  # the standstill starts once the engine idles / the vehicle stands
        elif self.pose.speed > 0.0:
            self.mode, self.target, self.accel_limit = "stop", 0.0, STOP_ACCEL_LIMIT
        else:
            self._hold_here()

    def _key_on_and_crank(self) -> None:
        self.pose.ignition = True
        self.mode, self.left = "crank", CRANK_S

    def _hold_here(self, at_least: float = 0.0) -> None:
        """Stand still for the ordered seconds, engine idling, brake pressed."""
        self.mode, self.left = "idle", max(at_least, self.hold or 0.0)
        self.hold, self.holding, self.turn_left = None, True, 0.0

    def _aim(self) -> None:
        """Drive towards the ordered speed (no junction turns at speed)."""
        if self.cruise is not None:
            self.target, self.accel_limit, self.turn_left = self.cruise, ORDERED_ACCEL, 0.0

    # -- modes ------------------------------------------------------------------------

    def _off(self) -> None:
        if self.left <= 0:
            self._key_on_and_crank()

    def _parked(self) -> None:
        """Ignition switched off by order: roll to a halt, then stay parked until ordered on."""
        self.pose.parking_brake = self.pose.parking_brake or self.pose.speed == 0.0

    def _hard_stop(self) -> None:
        if self.pose.speed <= 0.0:
            self._hold_here(at_least=HARD_STOP_REST_S)

    def _key_on(self) -> None:
        """Engine stopped, ignition still on: the ECU answers while the driver gets out."""
        if self.left <= 0:
            self.pose.ignition = False
            self.mode, self.left = "off", self.rng.uniform(180.0, 600.0)

    def _crank(self) -> None:
        self.pose.cranking = self.left < 1.0
        if self.left <= 0:
            self.pose.cranking, self.pose.engine_on = False, True
            self.mode, self.left = "idle", self.rng.uniform(3.0, 8.0)
            if self.hold is not None:
                self._hold_here()
            elif self.cruise is not None:
                self.left = 1.0  # ordered to drive: release the parking brake and go

    def _idle(self) -> None:
        self.target = 0.0
        if self.left > 0:
            return
        self.holding = False
        if self.cruise == 0.0:
            return  # ordered to stand: idle until the next order
        if self.trip_left <= 0 and self.cruise is None:
            self.pose.engine_on, self.pose.parking_brake = False, True
            self.mode, self.left = "key_on", self.rng.uniform(5.0, 20.0)
            self.trip_left = self.rng.uniform(1500.0, 2400.0)
            return
        if self.rng.random() < 0.5:
            self.turn_left = self.rng.choice((-90.0, 90.0))
        self._new_leg()

    def _drive(self) -> None:
        if self.left > 0:
            return
        if self.cruise is not None:
            self._new_leg()
        elif self.rng.random() < 0.35 or self.trip_left <= 0:
            self.mode, self.target = "stop", 0.0
            self.accel_limit = self.rng.uniform(1.2, 2.8)
        else:
            self._new_leg()

    def _stop(self) -> None:
        if self.pose.speed <= 0.0:
            self.mode, self.left = "idle", self.rng.uniform(5.0, 40.0)
            if self.hold is not None:
                self._hold_here()

    def _new_leg(self) -> None:
        self.pose.parking_brake = False
        self.mode, self.left = "drive", self.rng.uniform(20.0, 150.0)
        self.target = self.rng.choice(CRUISE_KMH) / 3.6 * self.rng.uniform(0.9, 1.05)
        self.accel_limit = self.rng.uniform(0.8, 2.4)
        if self.rng.random() < 0.6:
            self.curve_rate = self.rng.uniform(1.0, 5.0) * self.rng.choice((-1, 1))
            self.curve_left = self.rng.uniform(8.0, 30.0)
        self._aim()

    # -- longitudinal and lateral control -----------------------------------------------

    def _drive_speed(self, dt: float) -> None:
        p = self.pose
        if not p.engine_on or self.mode == "hard_stop":
            decel = self.hard_decel if p.engine_on else ROLL_OUT_DECEL
            p.speed = max(0.0, p.speed - decel * dt)
            return
        target = min(self.target, 6.0) if self.turn_left else self.target
        accel = max(-self.accel_limit - 0.5, min(self.accel_limit, 0.6 * (target - p.speed), power_limit(p.speed)))
        p.speed = max(0.0, p.speed + accel * dt)
        if self.target == 0.0 and p.speed < 0.15:
            p.speed = 0.0

    def _steer(self, dt: float) -> None:
        p = self.pose
        if p.speed < 0.5:
            return
        if self.turn_left:
            rate = math.copysign(TURN_RATE, self.turn_left)
            step = rate * dt if abs(rate * dt) < abs(self.turn_left) else self.turn_left
            self.turn_left -= step
        elif self.curve_left > 0:
            self.curve_left -= dt
            limit = math.degrees(MAX_LAT_ACCEL / p.speed)
            step = max(-limit, min(limit, self.curve_rate)) * dt
        else:
            return
        p.heading = (p.heading + step) % 360.0


def power_limit(speed: float) -> float:
    """The most acceleration (m/s²) the engine's power gives at ``speed`` after rolling and air resistance."""
    if speed < 5.0:
        return math.inf
    rolling, drag = RESISTANCE
    return (DRIVE_POWER_W / speed - rolling - drag * speed**2) / MASS_KG
