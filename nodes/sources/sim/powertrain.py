"""Engine, fuel and thermal model of the simulated vehicle (a 1.5 t petrol car, 2.0 l, 6 gears).

Driven by the route's speed, acceleration and grade: road-load power sets engine load,
throttle and fuel rate; rpm follows the gear; temperatures approach their targets with
first-order lags. Figures are typical for such a car, not any particular model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GRAVITY = 9.80665
MASS_KG = 1450.0
ROLLING = 0.012
DRAG_AREA = 0.65  # Cd * A, m²
AIR_DENSITY = 1.2
WHEEL_CIRCUMFERENCE = 1.95  # m
OVERALL_RATIOS = (13.5, 8.2, 5.6, 4.3, 3.4, 2.8)  # gear * final drive
IDLE_RPM = 780.0
SHIFT_RPM = 6000.0  # the driver shifts up before this, whatever the power asked for
MAX_POWER_KW = 110.0
REFERENCE_TORQUE_NM = 250
PEAK_TORQUE_RPM = (1500.0, 4500.0)
TANK_L = 55.0
LITRES_PER_KWH = 0.36
IDLE_FUEL_LPH = 0.7
FUEL_DENSITY = 0.745  # kg/l
STOICHIOMETRIC = 14.7


@dataclass
class Powertrain:
    """Mutable engine state, advanced with :meth:`step`."""

    fuel_level: float  # %
    coolant_c: float
    oil_c: float
    intake_c: float
    rpm: float = 0.0
    gear: int = 0
    load: float = 0.0  # calculated engine load, %
    demand: float = 0.0  # accelerator pedal, %
    power_kw: float = 0.0
    fuel_rate: float = 0.0  # l/h
    run_time_s: float = 0.0

    def step(self, speed: float, accel: float, grade: float, engine_on: bool, ambient: float, dt: float) -> None:
        if not engine_on:
            self.rpm = self.load = self.demand = self.power_kw = self.fuel_rate = 0.0
            self.gear, self.run_time_s = 0, 0.0
        else:
            self._running(speed, accel, grade, dt)
        self._temperatures(engine_on, speed, ambient, dt)

    def _running(self, speed: float, accel: float, grade: float, dt: float) -> None:
        self.run_time_s += dt
        force = MASS_KG * (accel + GRAVITY * (ROLLING + grade)) + 0.5 * AIR_DENSITY * DRAG_AREA * speed**2
        self.power_kw = force * speed / 1000.0 if speed > 0 else 0.0
        self.gear, self.rpm = select_gear(speed, accel, self.power_kw)
        available = available_power_kw(self.rpm)
        share = max(0.0, min(1.0, self.power_kw / available))
        self.demand = 100.0 * share if self.power_kw > 0 else 0.0
        self.load = 18.0 + 82.0 * share if self.power_kw >= 0 else 12.0
        self.fuel_rate = IDLE_FUEL_LPH * self.rpm / IDLE_RPM * 0.8 + LITRES_PER_KWH * max(self.power_kw, 0.0) / 0.9
        if self.power_kw < -2.0 and self.gear:
            self.fuel_rate = 0.0  # fuel cut on overrun
        self.fuel_level = max(0.0, self.fuel_level - self.fuel_rate * dt / 3600.0 / TANK_L * 100.0)

    def _temperatures(self, engine_on: bool, speed: float, ambient: float, dt: float) -> None:
        if engine_on:
            heat = 1.0 + self.load / 50.0
            self.coolant_c = lag(self.coolant_c, 90.0, 300.0 / heat, dt)
            self.oil_c = lag(self.oil_c, 96.0 + self.load / 10.0, 700.0 / heat, dt)
            self.intake_c = lag(self.intake_c, ambient + 4.0 + 14.0 * math.exp(-speed / 8.0), 60.0, dt)
        else:
            self.coolant_c = lag(self.coolant_c, ambient, 1800.0, dt)
            self.oil_c = lag(self.oil_c, ambient, 2400.0, dt)
            self.intake_c = lag(self.intake_c, ambient, 600.0, dt)

    @property
    def maf_gps(self) -> float:
        """Mass air flow (g/s) from the fuel burnt at a stoichiometric mixture."""
        return self.fuel_rate * FUEL_DENSITY / 3.6 * STOICHIOMETRIC

    @property
    def torque_pct(self) -> float:
        """Actual (indicated) engine torque in percent of the reference torque, at most the full-load torque."""
        if self.rpm <= 0:
            return 0.0
        brake_nm = self.power_kw * 1000.0 / (self.rpm * 2 * math.pi / 60.0)
        return max(-125.0, min(self.max_torque_pct, brake_nm / REFERENCE_TORQUE_NM * 100.0 + self.friction_pct))

    @property
    def max_torque_pct(self) -> float:
        """Full-load torque at the current rpm in percent of the reference (peak) torque; 0 when stopped."""
        return full_load_torque_pct(self.rpm)

    @property
    def friction_pct(self) -> float:
        return 0.0 if self.rpm <= 0 else 6.0 + self.rpm / 1000.0


def select_gear(speed: float, accel: float, power_kw: float = 0.0) -> tuple[int, float]:
    """Gear and rpm: the highest gear keeping at least 1400 rpm (1900 when accelerating hard)
    whose rpm gives the power asked for; short of power, the lowest gear below the shift rpm."""
    floor = 1900.0 if accel > 1.5 else 1400.0
    wheel_rps = speed / WHEEL_CIRCUMFERENCE
    if speed < 2.0:
        return (
            (1, max(IDLE_RPM + 300.0 * max(accel, 0.0), wheel_rps * 60 * OVERALL_RATIOS[0]))
            if accel > 0
            else (0, IDLE_RPM)
        )
    choice: tuple[int, float] | None = None
    for gear in range(len(OVERALL_RATIOS), 0, -1):
        rpm = wheel_rps * 60 * OVERALL_RATIOS[gear - 1]
        if rpm > SHIFT_RPM:
            break
        if rpm >= floor:
            choice = gear, rpm
            if available_power_kw(rpm) >= power_kw:
                return choice
    if choice is not None:
        return choice
    gear = len(OVERALL_RATIOS) if wheel_rps * 60 * OVERALL_RATIOS[-1] > SHIFT_RPM else 1
    return gear, max(IDLE_RPM, wheel_rps * 60 * OVERALL_RATIOS[gear - 1])


def available_power_kw(rpm: float) -> float:
    """Full-load power at ``rpm`` (rising to the maximum at 5500 rpm)."""
    return MAX_POWER_KW * min(1.0, rpm / 5500.0)


def full_load_torque_pct(rpm: float) -> float:
    """The engine's torque curve: 85 % at idle, the full reference torque 1500-4500 rpm, falling above."""
    if rpm <= 0:
        return 0.0
    if rpm < PEAK_TORQUE_RPM[0]:
        return 85.0 + 15.0 * max(0.0, rpm - IDLE_RPM) / (PEAK_TORQUE_RPM[0] - IDLE_RPM)
    if rpm <= PEAK_TORQUE_RPM[1]:
        return 100.0
    return max(0.0, 100.0 - (rpm - PEAK_TORQUE_RPM[1]) / 100.0)


def lag(value: float, target: float, tau: float, dt: float) -> float:
    """First-order approach of ``value`` to ``target`` with time constant ``tau``."""
    return target + (value - target) * math.exp(-dt / tau)
