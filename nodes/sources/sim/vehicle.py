"""The simulated vehicle: one seeded, deterministic model behind every simulated source.

``shared_vehicle(runtime)`` returns the runtime's single :class:`Vehicle` (a shared
object of ``runtime.services``), configured from the device config section
``[sources.vehicle]``. ``vehicle.state()`` gives a frozen :class:`VehicleState` for
"now": the model advances in fixed 0.1 s steps from its start, so the state at a given
elapsed time depends only on the seed (and the replayed track, if any) and the commands
given before that time (:meth:`Vehicle.apply` now, :meth:`Vehicle.schedule` at a set
time, a scenario file). Commands are kept on a timeline by step and replayed with the
seed, so a reader asking for any instant gets the same answer. The GNSS writer, the OBD
ECU, the motion sysfs writer and the IO/cellular simulations all read the same state,
so their values agree with each other.

Conventions: heading clockwise from north; ``yaw_rate_dps`` is the heading rate
(positive turning right); ``long_accel_g`` positive when speeding up; ``lat_accel_g``
positive towards the right (a right turn); ``pitch`` positive nose up; ``roll``
positive right side down; ``steering_rad`` (steering wheel) positive counter-clockwise,
i.e. turning left, as SAE J1939 and ISO 8855 count it.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from flowengine.errors import FlowConfigError, Problem
from nodes.sources.sim.commands import DRIVER_KEYS, Command, Wiring
from nodes.sources.sim.geo import angle_diff
from nodes.sources.sim.powertrain import GRAVITY, REFERENCE_TORQUE_NM, TANK_L, Powertrain
from nodes.sources.sim.route import Pose, SyntheticRoute
from nodes.sources.sim.scenario import ScenarioEntry, ScenarioError, load_scenario
from nodes.sources.sim.track import TrackError, TrackReplay, load_track
from nodes.sources.sim.vin import is_valid_vin, random_vin

STEP = 0.1  # simulated seconds per integration step
DEFAULT_SEED = 20240611
SECTION = "sources.vehicle"
WHEELBASE_M = 2.7
STEERING_RATIO = 15.0
CELL_GRID_DEG = 0.015
#: OBD readiness monitors reported in PID 01/41, by engine (names as in the obd.*_mon keys).
MONITORS = {
    "spark": ("mf", "f_s", "c_c", "c", "h_c", "e_s", "s_a_s", "a_s_r", "o_s", "o_s_h", "e_v_s"),
    "compression": ("mf", "f_s", "c_c", "nmhc", "n_c", "b_p_c_s", "e_g_s", "pf", "e_v_s"),
}
#: Monitors J1979 has no bit for, answered from a manufacturer DID (cold start aid system).
DID_MONITORS = ("c_s_a_s",)
#: Seconds of running in the current drive cycle before a monitor completes.
CYCLE_MONITOR_S = {
    "mf": 0, "f_s": 0, "c_c": 0, "c": 420, "h_c": 180, "e_s": 1500, "s_a_s": 60, "a_s_r": 300, "o_s": 240,
    "o_s_h": 90, "e_v_s": 600, "nmhc": 480, "n_c": 720, "b_p_c_s": 120, "e_g_s": 240, "pf": 1200, "c_s_a_s": 30,
}  # fmt: skip
#: The one monitor left incomplete since DTCs were cleared (so both states are seen), by engine.
PENDING_MONITOR = {"spark": "e_s", "compression": "pf"}
#: Simulated seconds of per-step motion kept for sensors that deliver the past in blocks (a buffered IMU).
MOTION_HISTORY_S = 5.0
DEF_PER_FUEL = 0.03  # litres of diesel exhaust fluid per litre of fuel
DEF_TANK_L = 15.0
MAX_DTCS = 32  # stored trouble codes the simulated ECU keeps
AFTER_RUN_S = 10.0  # the engine ECU stays awake (and answers) this long after the key is turned off
GNSS_TYPES = ("Beidou", "GPS+Beidou", "GPS+Glonass", "GPS+Galileo")
SA_SITES = 3  # of 10 cell sites run 5G standalone; the others 5G NSA (EN-DC) on an LTE anchor
NR_MIN_RSRP = -108.0  # dBm; below it the modem falls back to LTE alone


class VehicleSettings(BaseModel):
    """``[sources.vehicle]``: what the simulated vehicle is and where it drives."""

    model_config = ConfigDict(extra="forbid")

    seed: int = DEFAULT_SEED
    track: Path | None = Field(
        default=None, description="replay a recorded .gpx or .nmea track instead of the synthetic route"
    )
    latitude: float = Field(default=48.1372, ge=-80.0, le=80.0, description="start of the synthetic route")
    longitude: float = Field(default=11.5755, ge=-180.0, le=180.0)
    altitude: float = Field(default=520.0, ge=-400.0, le=6000.0)
    time_scale: float = Field(default=1.0, gt=0.0, le=1000.0, description="simulated seconds per real second")
    vin: str | None = None
    engine: Literal["spark", "compression"] = Field(
        default="spark", description="petrol (spark ignition) or diesel (compression ignition, with DEF)"
    )
    gnss_type: Literal["Beidou", "GPS+Beidou", "GPS+Glonass", "GPS+Galileo"] = Field(
        default="GPS+Glonass", description="constellations the simulated receiver tracks"
    )
    scenario: Path | None = Field(
        default=None, description="JSON timeline of simulator settings applied after the start (--scenario)"
    )

    @field_validator("vin")
    @classmethod
    def _vin(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_vin(value):
            raise ValueError("must be 17 characters (no I, O, Q) with a valid check digit")
        return value.upper() if value else value


@dataclass(frozen=True, slots=True)
class VehicleState:
    """Everything the simulated sources read, at one instant."""

    elapsed_s: float
    unix_time: float
    # position and motion
    latitude: float
    longitude: float
    altitude: float
    speed_kmh: float
    heading: float
    long_accel_g: float
    lat_accel_g: float
    yaw_rate_dps: float
    roll: float
    pitch: float
    steering_rad: float
    # key and brakes
    ignition: bool
    ecu_awake: bool  # ignition on, or within the ECU's after-run once it went off
    engine_on: bool
    cranking: bool
    brake: bool
    parking_brake: bool
    # engine
    engine: str
    rpm: float
    gear: int
    load: float
    throttle: float
    accel_pedal: float
    maf_gps: float
    torque_pct: float
    max_torque_pct: float
    friction_torque_pct: float
    reference_torque_nm: int
    run_time_s: float
    # fuel and distance
    fuel_level: float
    fuel_rate: float
    fuel_pressure_kpa: float
    fuel_rail_kpa: float
    def_level: float | None  # diesel exhaust fluid tank, % (None on a petrol engine)
    odometer_km: float
    trip_km: float
    # temperatures, pressures, electrics
    coolant_c: float
    intake_c: float
    ambient_c: float
    oil_c: float
    baro_kpa: float
    map_kpa: float
    battery_v: float
    # diagnostics
    vin: str
    mil: bool
    dtc_count: int
    dtcs: tuple[str, ...]  # stored trouble codes (mode 03)
    dist_since_clear_km: float
    time_since_clear_min: float
    monitors_complete: dict[str, bool]  # since DTCs cleared (PID 01), plus DID_MONITORS
    cycle_monitors_complete: dict[str, bool]  # this drive cycle (PID 41), plus DID_MONITORS
    # what the harness feeds the IO board besides ignition and battery: commanded input levels
    inputs: dict[int, int]
    # GNSS reception
    gnss_type: str
    gnss_fix: int
    num_sv: int
    hdop: float
    pdop: float
    # cellular radio at this position
    cell_id: int
    lac: int
    rsrp_dbm: float
    rsrq_db: float
    sinr_db: float
    rssi_dbm: float
    radio: str  # "LTE", "NSA" (5G on an LTE anchor) or "SA" (5G standalone)


class Vehicle:
    """The seeded model; :meth:`state`, :meth:`apply` and :meth:`schedule` may be called from any thread."""

    def __init__(
        self,
        settings: VehicleSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        scenario: Iterable[ScenarioEntry] | None = None,
    ) -> None:
        self.settings = settings or VehicleSettings()
        self._clock = clock
        self._keep_motion = False
        self._t0 = clock()
        self._wall0 = wall()
        self._lock = threading.Lock()
        self._points = _track_points(self.settings)
        self._timeline: list[tuple[int, int, Command]] = []  # (step, order given, command)
        self._given = itertools.count()
        self._reset()
        entries = scenario if scenario is not None else _scenario(self.settings, Wiring(track=bool(self._points)))
        for entry in entries:
            self.schedule(entry.at, entry.commands)

    @property
    def drives_itself(self) -> bool:
        """True when a recorded track drives the vehicle (it takes no driver orders)."""
        return bool(self._points)

    def elapsed(self) -> float:
        """Simulated seconds since the model started."""
        return (self._clock() - self._t0) * self.settings.time_scale

    def recent_motion(self, since: float) -> tuple[VehicleState, list[tuple[float, dict[str, float]]]]:
        """The state now and the motion of each step that ended after ``since`` (simulated seconds).

        For sensors that hand over the past in blocks: they never ask for an earlier
        instant (which would restart the model), only for what the steps already taken
        were. The history reaches back :data:`MOTION_HISTORY_S`.
        """
        self._keep_motion = True  # from now on: nobody else pays for the history
        now = self.state()
        with self._lock:
            return now, [(t, motion) for t, motion in self._recent if t > since]

    def state(self, at: float | None = None) -> VehicleState:
        """The vehicle at ``at`` simulated seconds (default: now)."""
        target = self.elapsed() if at is None else max(0.0, at)
        with self._lock:
            steps = int(target / STEP + 1e-9)
            if steps < self._steps:
                self._reset()
            while self._steps < steps:
                self._step()
            return self._snapshot(target)

    def apply(self, commands: Iterable[Command]) -> float:
        """Checked commands (:func:`~.commands.parse_commands`) take effect now; returns the simulated time."""
        with self._lock:
            now = self.elapsed()
            self._insert(max(int(now / STEP + 1e-9), self._steps), commands)
            return now

    def schedule(self, at: float, commands: Iterable[Command]) -> None:
        """Checked commands take effect ``at`` simulated seconds after the start (a scenario entry)."""
        with self._lock:
            step = int(max(0.0, at) / STEP + 1e-6)
            self._insert(step, commands)
            if step < self._steps:
                self._reset()  # the past changed: the next state() replays the timeline

    @property
    def timeline(self) -> list[ScenarioEntry]:
        """Every command given so far, as scenario entries: a new vehicle with this seed replays the same drive."""
        with self._lock:
            entries = [(step, command) for step, _given, command in self._timeline]
        return [
            ScenarioEntry(round(step * STEP, 1), tuple(c for _s, c in group))
            for step, group in itertools.groupby(entries, key=lambda e: e[0])
        ]

    def _insert(self, step: int, commands: Iterable[Command]) -> None:
        for command in commands:
            bisect.insort(self._timeline, (step, next(self._given), command), key=lambda e: e[:2])

    # -- integration ------------------------------------------------------------------

    def _reset(self) -> None:
        s = self.settings
        rng = random.Random(s.seed)
        self.rng = rng
        self.vin = s.vin or random_vin(rng)
        self.ambient_base = rng.uniform(4.0, 26.0)
        self.route = (
            TrackReplay(self._points) if self._points else SyntheticRoute(rng, s.latitude, s.longitude, s.altitude)
        )
        amb = self.ambient_base
        self.engine = Powertrain(fuel_level=rng.uniform(35.0, 90.0), coolant_c=amb, oil_c=amb, intake_c=amb)
        self.odometer_km = rng.uniform(8_000.0, 90_000.0)
        self.clear_km = rng.uniform(400.0, 3_000.0)
        self.clear_min = self.clear_km / 45.0 * 60.0  # at an average 45 km/h
        self.trip_km = 0.0
        self.phase = rng.uniform(0.0, 2 * math.pi)
        self.def_level = rng.uniform(40.0, 95.0) if s.engine == "compression" else None
        self.accel = self.yaw_rate = self.grade = 0.0
        self.dtcs: list[str] = []
        self.cleared_run_s: float | None = None  # engine running time since the codes were last cleared
        self.inputs: dict[int, int] = {}
        self._steps = 0
        self._done = 0  # timeline entries already carried out
        history_s = MOTION_HISTORY_S * max(1.0, s.time_scale)  # a few real seconds at any speed
        self._recent: deque[tuple[float, dict[str, float]]] = deque(maxlen=round(history_s / STEP))
        self._was_ignition = self.route.pose.ignition
        self.key_off_at: float | None = None
        self.engine.step(0.0, 0.0, 0.0, self.route.pose.engine_on, amb, 0.0)  # idling at t=0

    def _step(self) -> None:
        self._carry_out_due()
        pose = self.route.pose
        speed0, heading0, alt0, dist0 = pose.speed, pose.heading, pose.alt, pose.distance_m
        self.route.advance(STEP)
        self._steps += 1
        moved = pose.distance_m - dist0
        self.accel = (pose.speed - speed0) / STEP
        self.yaw_rate = angle_diff(heading0, pose.heading) / STEP if moved > 0 else 0.0
        if moved > 0.05:
            self.grade = max(-0.15, min(0.15, (pose.alt - alt0) / moved))
        self.engine.step(pose.speed, self.accel, self.grade, pose.engine_on, self._ambient(), STEP)
        if self.engine.fuel_level < 8.0 and not pose.ignition:
            self.engine.fuel_level = 95.0  # refuelled while parked
        if pose.ignition and not self._was_ignition:
            self.trip_km = 0.0
        if self._was_ignition and not pose.ignition:
            self.key_off_at = self._steps * STEP
        self._was_ignition = pose.ignition
        if self.def_level is not None:
            burnt_l = self.engine.fuel_rate * STEP / 3600.0
            self.def_level = max(0.0, self.def_level - DEF_PER_FUEL * burnt_l / DEF_TANK_L * 100.0)
        self.odometer_km += moved / 1000.0
        self.trip_km += moved / 1000.0
        self.clear_km += moved / 1000.0
        if pose.engine_on:
            self.clear_min += STEP / 60.0
            if self.cleared_run_s is not None:
                self.cleared_run_s += STEP
        if self._keep_motion:
            self._recent.append((self._steps * STEP, self._motion(pose)))

    # -- commands -----------------------------------------------------------------------

    def _carry_out_due(self) -> None:
        while self._done < len(self._timeline) and self._timeline[self._done][0] <= self._steps:
            self._carry_out(self._timeline[self._done][2])
            self._done += 1

    def _carry_out(self, command: Command) -> None:
        key, value = command.key, command.value
        if key in DRIVER_KEYS and isinstance(self.route, SyntheticRoute):
            self.route.order(key.removeprefix("vehicle."), value)
        elif key == "obd.dtc":
            self._trouble_code(value)
        elif key.startswith("io.DI"):
            self.inputs[int(key.removeprefix("io.DI"))] = value

    def _trouble_code(self, code: str | None) -> None:
        """A stored code appears (and lights the MIL), or a scan tool clears them (mode 04)."""
        if code is None:
            self.dtcs.clear()
            self.clear_km = self.clear_min = 0.0
            self.cleared_run_s = 0.0  # readiness monitors run again from scratch
        elif code not in self.dtcs and len(self.dtcs) < MAX_DTCS:
            self.dtcs.append(code)

    def _ambient(self) -> float:
        return self.ambient_base + 2.0 * math.sin(2 * math.pi * self._steps * STEP / 86_400.0 + self.phase)

    # -- snapshot ---------------------------------------------------------------------

    def _snapshot(self, at: float) -> VehicleState:
        pose, eng = self.route.pose, self.engine
        t = self._steps * STEP
        baro = 101.325 * math.exp(-pose.alt / 8434.5)
        return VehicleState(
            elapsed_s=at,
            unix_time=self._wall0 + at / self.settings.time_scale,
            **self._motion(pose),
            ignition=pose.ignition,
            ecu_awake=pose.ignition or (self.key_off_at is not None and t - self.key_off_at < AFTER_RUN_S),
            engine_on=pose.engine_on,
            cranking=pose.cranking,
            brake=(pose.engine_on and pose.speed == 0.0) or self.accel < -0.4,
            parking_brake=pose.parking_brake,
            engine=self.settings.engine,
            rpm=eng.rpm,
            gear=eng.gear,
            load=eng.load,
            throttle=(12.0 + 0.8 * eng.demand) if pose.engine_on else 0.0,
            accel_pedal=eng.demand,
            maf_gps=eng.maf_gps,
            torque_pct=eng.torque_pct,
            max_torque_pct=eng.max_torque_pct,
            friction_torque_pct=eng.friction_pct,
            reference_torque_nm=REFERENCE_TORQUE_NM,
            run_time_s=eng.run_time_s,
            fuel_level=eng.fuel_level,
            fuel_rate=eng.fuel_rate,
            fuel_pressure_kpa=(300.0 + eng.load) if pose.engine_on else 0.0,
            fuel_rail_kpa=(4_000.0 + 80.0 * eng.load) if pose.engine_on else 0.0,
            def_level=self.def_level,
            odometer_km=self.odometer_km,
            trip_km=self.trip_km,
            coolant_c=eng.coolant_c,
            intake_c=eng.intake_c,
            ambient_c=self._ambient(),
            oil_c=eng.oil_c,
            baro_kpa=baro,
            map_kpa=baro * min(1.0, 0.28 + 0.72 * max(eng.load - 18.0, 0.0) / 82.0) if pose.engine_on else baro,
            battery_v=self._battery(pose, t),
            vin=self.vin,
            mil=bool(self.dtcs),
            dtc_count=len(self.dtcs),
            dtcs=tuple(self.dtcs),
            dist_since_clear_km=self.clear_km,
            time_since_clear_min=self.clear_min,
            **self._monitors(eng.run_time_s),
            inputs=dict(self.inputs),
            **self._gnss(t),
            **self._cell(pose, t),
        )

    def _motion(self, pose: Pose) -> dict[str, Any]:
        lat_accel = pose.speed * math.radians(self.yaw_rate) / GRAVITY
        long_accel = self.accel / GRAVITY
        road_wheel = math.atan2(WHEELBASE_M * math.radians(self.yaw_rate), pose.speed) if pose.speed > 0.5 else 0.0
        return {
            "latitude": pose.lat,
            "longitude": pose.lon,
            "altitude": pose.alt,
            "speed_kmh": pose.speed * 3.6,
            "heading": pose.heading % 360.0,
            "long_accel_g": long_accel,
            "lat_accel_g": lat_accel,
            "yaw_rate_dps": self.yaw_rate,
            "roll": -3.0 * lat_accel,
            "pitch": math.degrees(math.atan(self.grade)) + 1.2 * long_accel,
            "steering_rad": max(-31.374, min(31.374, -road_wheel * STEERING_RATIO)),
        }

    def _monitors(self, run_time_s: float) -> dict[str, Any]:
        engine = self.settings.engine
        names = (*MONITORS[engine], *DID_MONITORS)
        since_clear = self.cleared_run_s
        return {
            "monitors_complete": {
                m: m != PENDING_MONITOR[engine] and (since_clear is None or since_clear >= CYCLE_MONITOR_S[m])
                for m in names
            },
            "cycle_monitors_complete": {m: run_time_s >= CYCLE_MONITOR_S[m] for m in names},
        }

    def _battery(self, pose: Pose, t: float) -> float:
        if pose.cranking:
            return 10.6
        if pose.engine_on:
            return 14.2 - 0.3 * self.engine.load / 100.0 + 0.05 * math.sin(t / 7.0 + self.phase)
        return 12.35 if pose.ignition else 12.6

    def _gnss(self, t: float) -> dict[str, Any]:
        """Satellites drift between 6 and 12; DOPs follow the satellite count."""
        wave = 2.5 * math.sin(t / 97.0 + self.phase) + 1.5 * math.sin(t / 23.0 + 2 * self.phase)
        num_sv = max(6, min(12, round(9.5 + wave)))
        hdop = round(0.5 + 4.5 / num_sv + 0.1 * math.sin(t / 41.0), 2)
        return {
            "gnss_type": self.settings.gnss_type,
            "gnss_fix": 3,
            "num_sv": num_sv,
            "hdop": hdop,
            "pdop": round(hdop * 1.7, 2),
        }

    def _cell(self, pose: Pose, t: float) -> dict[str, Any]:
        """Serving cell from a seeded grid of sites; signal falls with distance to the site.

        Each site runs 5G, standalone or on an LTE anchor (seeded); far from it, where
        the signal is weak, the modem falls back to LTE alone.
        """
        i, j = math.floor(pose.lat / CELL_GRID_DEG), math.floor(pose.lon / CELL_GRID_DEG)
        key = f"{self.settings.seed}:{i}:{j}".encode()
        fx, fy = (pose.lat / CELL_GRID_DEG) % 1.0, (pose.lon / CELL_GRID_DEG) % 1.0
        far = min(1.0, math.hypot(fx - 0.5, fy - 0.5) / 0.7071)
        fade = 3.0 * math.sin(t / 13.0 + self.phase)
        rsrp = -72.0 - 40.0 * far + fade
        site = "SA" if zlib.crc32(key + b":nr") % 10 < SA_SITES else "NSA"
        return {
            "radio": site if rsrp >= NR_MIN_RSRP else "LTE",
            "cell_id": zlib.crc32(key) & 0x0FFFFFFF,
            "lac": zlib.crc32(f"{self.settings.seed}:{i // 6}:{j // 6}".encode()) & 0xFFFF or 1,
            "rsrp_dbm": round(rsrp, 1),
            "rsrq_db": round(-5.0 - 12.0 * far, 1),
            "sinr_db": round(24.0 - 26.0 * far + fade, 1),
            "rssi_dbm": round(rsrp + 27.0, 1),
        }


def _scenario(settings: VehicleSettings, wiring: Wiring) -> list[ScenarioEntry]:
    if settings.scenario is None:
        return []
    try:
        return load_scenario(settings.scenario, wiring)
    except ScenarioError as exc:
        raise FlowConfigError([Problem(SECTION, None, "scenario", str(exc))]) from None


def _track_points(settings: VehicleSettings) -> list[Any]:
    if settings.track is None:
        return []
    try:
        return load_track(settings.track)
    except TrackError as exc:
        raise FlowConfigError([Problem(SECTION, None, "track", str(exc))]) from None


def vehicle_settings(data: dict[str, Any]) -> VehicleSettings:
    """Validate ``[sources.vehicle]``; errors name the field."""
    try:
        return VehicleSettings.model_validate(data)
    except ValidationError as exc:
        problems = [Problem(SECTION, None, ".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()]
        raise FlowConfigError(problems) from None


def shared_vehicle(runtime: Any) -> Vehicle:
    """The runtime's one simulated vehicle, created on first use from ``[sources.vehicle]`` (and its scenario)."""
    from nodes.sources.settings import harness_wiring, source_settings

    services = runtime.services

    def make() -> Vehicle:
        settings = vehicle_settings(source_settings(services.device, "vehicle"))
        scenario = _scenario(settings, harness_wiring(services.device, track=settings.track is not None))
        return Vehicle(settings, scenario=scenario)

    return services.shared(Vehicle, make)


__all__ = ["TANK_L", "Vehicle", "VehicleSettings", "VehicleState", "shared_vehicle", "vehicle_settings"]
