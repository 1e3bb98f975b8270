"""Driving the simulated vehicle: every setting moves the state physically, and the model stays deterministic."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import pytest

from nodes.sources.motion.attitude import specific_force
from nodes.sources.sim.commands import parse_commands
from nodes.sources.sim.geo import distance_m
from nodes.sources.sim.powertrain import OVERALL_RATIOS, WHEEL_CIRCUMFERENCE
from nodes.sources.sim.vehicle import STEP, Vehicle, VehicleState

START = 20.0  # the default seed is driving by then


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def ordered(at: float, **settings: Any) -> Vehicle:
    vehicle = Vehicle()
    vehicle.schedule(at, parse_commands({k.replace("_", ".", 1): v for k, v in settings.items()}))
    return vehicle


def states(vehicle: Vehicle, start: float, end: float, step: float = STEP) -> list[VehicleState]:
    count = round((end - start) / step)
    return [vehicle.state(start + i * step) for i in range(count + 1)]


def comparable(state: VehicleState) -> VehicleState:
    return replace(state, unix_time=0.0)


def test_target_speed_ramps_there_with_bounded_acceleration_and_holds() -> None:
    drive = states(ordered(START, vehicle_target_speed=130), START, START + 120)
    accels = [(b.speed_kmh - a.speed_kmh) / 3.6 / STEP for a, b in itertools.pairwise(drive)]
    assert max(accels) <= 2.0 + 1e-9  # m/s², never a jump
    assert min(accels) >= -2.5 - 1e-9
    assert drive[-1].speed_kmh == pytest.approx(130.0, abs=0.5)
    assert all(s.speed_kmh == pytest.approx(130.0, abs=0.5) for s in drive[-300:])  # held, no stops or turns


def test_speed_moves_the_odometer_the_track_and_the_engine() -> None:
    vehicle = ordered(START, vehicle_target_speed=130)
    drive = states(vehicle, START + 60, START + 120)
    driven_km = sum((a.speed_kmh + b.speed_kmh) / 2 / 3.6 * STEP for a, b in itertools.pairwise(drive)) / 1000
    assert drive[-1].odometer_km - drive[0].odometer_km == pytest.approx(driven_km, rel=0.01)
    track_m = sum(distance_m(a.latitude, a.longitude, b.latitude, b.longitude) for a, b in itertools.pairwise(drive))
    assert track_m / 1000 == pytest.approx(driven_km, rel=0.01)
    cruise = drive[-1]
    wheel_rpm = cruise.speed_kmh / 3.6 / WHEEL_CIRCUMFERENCE * 60
    assert cruise.gear == 6 and cruise.rpm == pytest.approx(wheel_rpm * OVERALL_RATIOS[5], rel=1e-6)
    slower = ordered(START, vehicle_target_speed=60).state(START + 120)
    assert slower.rpm < cruise.rpm and slower.fuel_rate < cruise.fuel_rate


def test_a_hard_stop_brakes_at_the_given_deceleration_then_drives_on() -> None:
    vehicle = ordered(START, vehicle_target_speed=100)
    vehicle.schedule(START + 60, parse_commands({"vehicle.brake": 0.6}))
    before = vehicle.state(START + 60)
    assert before.speed_kmh == pytest.approx(100.0, abs=1)
    braking = states(vehicle, START + 60.3, START + 64)
    assert all(s.long_accel_g == pytest.approx(-0.6, abs=1e-6) and s.brake for s in braking)
    ax, _ay, _az = specific_force(braking[5].long_accel_g, braking[5].lat_accel_g, braking[5].roll, braking[5].pitch)
    assert ax == pytest.approx(-0.6, abs=0.06)  # what the accelerometer reads (plus the slope)
    stopped = [s for s in states(vehicle, START + 60, START + 75) if s.speed_kmh == 0]
    assert len(stopped) >= 25  # stands about three seconds
    assert stopped[0].elapsed_s - (START + 60) == pytest.approx(100 / 3.6 / (0.6 * 9.80665), abs=0.2)
    assert vehicle.state(START + 90).speed_kmh > 50  # then on towards the ordered speed


def test_stop_stands_still_for_the_given_seconds_with_the_engine_idling() -> None:
    vehicle = ordered(START, vehicle_stop=20)
    track = states(vehicle, START, START + 90)
    standing = [s for s in track if s.speed_kmh == 0]
    first, last = standing[0].elapsed_s, standing[-1].elapsed_s
    assert last - first == pytest.approx(20.0, abs=0.2)
    assert all(s.engine_on and s.rpm > 700 and s.brake for s in standing)  # idling: what IDLE events see
    decel = [(a.speed_kmh - b.speed_kmh) / 3.6 / STEP for a, b in itertools.pairwise(track) if b.elapsed_s <= first]
    assert max(decel) <= 2.0 + 1e-9  # an ordinary stop, not a hard one
    assert track[-1].speed_kmh > 0  # drives on


def test_ignition_off_stops_engine_and_vehicle_until_switched_on_again() -> None:
    vehicle = ordered(START, vehicle_target_speed=90)
    vehicle.schedule(START + 60, parse_commands({"vehicle.ignition": 0}))
    off = states(vehicle, START + 60.2, START + 80)
    assert all(not s.ignition and not s.engine_on and s.rpm == 0 for s in off)
    assert off[0].speed_kmh > 80 and off[-1].speed_kmh == 0  # rolls to a halt, no jump
    assert vehicle.state(START + 69).ecu_awake and not vehicle.state(START + 71).ecu_awake  # 10 s of ECU after-run
    assert vehicle.state(START + 1200).ignition is False  # the driver waits for the key
    assert vehicle.state(START + 1200).parking_brake
    vehicle.schedule(START + 1200, parse_commands({"vehicle.ignition": 1}))
    cranking = vehicle.state(START + 1201.5)
    assert cranking.ignition and cranking.cranking and not cranking.engine_on
    idling = vehicle.state(START + 1202.5)
    assert idling.engine_on and idling.rpm > 700 and idling.speed_kmh == 0
    assert max(s.speed_kmh for s in states(vehicle, START + 1203, START + 1260, 1.0)) > 0  # the driver drives on


def test_a_target_speed_while_parked_starts_the_engine_first() -> None:
    vehicle = ordered(START, vehicle_ignition=0)
    vehicle.schedule(START + 100, parse_commands({"vehicle.target_speed": 50}))
    assert not vehicle.state(START + 100).engine_on
    assert vehicle.state(START + 101.5).cranking
    assert vehicle.state(START + 140).speed_kmh == pytest.approx(50, abs=1)


def test_target_zero_idles_and_null_gives_the_route_back() -> None:
    vehicle = ordered(START, vehicle_target_speed=0)
    idle = states(vehicle, START + 30, START + 300, 5.0)
    assert all(s.speed_kmh == 0 and s.engine_on for s in idle)
    vehicle.schedule(START + 300, parse_commands({"vehicle.target_speed": None}))
    assert max(s.speed_kmh for s in states(vehicle, START + 300, START + 400, 1.0)) > 0


def test_trouble_codes_light_the_mil_and_clearing_resets_the_readiness() -> None:
    vehicle = ordered(START, obd_dtc="P0301")
    vehicle.schedule(START + 1, parse_commands({"obd.dtc": "p0420"}))
    vehicle.schedule(START + 2, parse_commands({"obd.dtc": "P0301"}))  # already stored
    stored = vehicle.state(START + 5)
    assert (stored.dtcs, stored.dtc_count, stored.mil) == (("P0301", "P0420"), 2, True)
    vehicle.schedule(START + 10, parse_commands({"obd.dtc": "clear"}))
    cleared = vehicle.state(START + 10.5)
    assert (cleared.dtcs, cleared.mil) == ((), False)
    assert cleared.dist_since_clear_km < 0.1 and cleared.time_since_clear_min < 0.1
    assert not cleared.monitors_complete["c"] and cleared.monitors_complete["mf"]  # continuous ones at once
    later = vehicle.state(START + 10 + 600)
    assert later.monitors_complete["c"] and not later.monitors_complete["e_s"]  # evap stays pending


def test_digital_inputs_hold_the_level_they_were_given() -> None:
    vehicle = ordered(START, io_DI2=0)
    assert vehicle.state(START).inputs == {}
    assert vehicle.state(START + 0.2).inputs == {2: 0}
    vehicle.schedule(START + 5, parse_commands({"io.DI2": 1, "io.DI4": 0}))
    assert vehicle.state(START + 6).inputs == {2: 1, 4: 0}


def test_a_command_applied_now_equals_the_same_command_scheduled_for_then() -> None:
    clock = ManualClock()
    live = Vehicle(clock=clock)
    clock.now = START
    live.state()
    live.apply(parse_commands({"vehicle.target_speed": 130}))
    planned = ordered(START, vehicle_target_speed=130)
    for at in (START + 1, START + 30, START + 61.7):
        assert comparable(live.state(at)) == comparable(planned.state(at))


def test_same_seed_and_timeline_give_the_same_drive_whatever_the_query_order() -> None:
    def timeline() -> Vehicle:
        vehicle = ordered(START, vehicle_target_speed=120)
        vehicle.schedule(START + 40, parse_commands({"vehicle.brake": 0.8, "obd.dtc": "P0171"}))
        vehicle.schedule(START + 70, parse_commands({"vehicle.stop": 10, "io.DI3": 0}))
        vehicle.schedule(START + 100, parse_commands({"vehicle.ignition": 0}))
        return vehicle

    forward, backward = timeline(), timeline()
    backward.state(START + 300)  # computed the far future first: asking for the past replays the timeline
    for at in (START + 10, START + 45, START + 75, START + 150):
        assert comparable(forward.state(at)) == comparable(backward.state(at))


def test_a_command_scheduled_in_the_past_replays_from_the_start() -> None:
    vehicle = Vehicle()
    untouched = vehicle.state(START + 60)
    vehicle.schedule(START, parse_commands({"vehicle.target_speed": 130}))
    assert vehicle.state(START + 60).speed_kmh == pytest.approx(130, abs=0.5) != untouched.speed_kmh
    assert comparable(vehicle.state(START - 1)) == comparable(Vehicle().state(START - 1))  # the past before it stays
