"""The simulated vehicle: deterministic, physically coherent, and the same for every simulated source."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from flowengine.config import DeviceConfig
from flowengine.errors import FlowConfigError
from flowengine.runtime import Runtime
from flowengine.services import Services
from flowengine.testing import FlowHarness
from nodes.sources.sim.geo import bearing_deg, distance_m
from nodes.sources.sim.nmea_out import epoch
from nodes.sources.sim.vehicle import Vehicle, VehicleSettings, shared_vehicle, vehicle_settings
from nodes.sources.sim.vin import is_valid_vin


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def comparable(state: Any) -> Any:
    return replace(state, unix_time=0.0)


def test_same_seed_same_drive_whatever_the_query_order() -> None:
    forward, backward = Vehicle(), Vehicle()
    backward.state(1200.0)
    assert comparable(forward.state(600.0)) == comparable(backward.state(600.0))
    other = Vehicle(VehicleSettings(seed=7)).state(600.0)
    assert other.latitude != forward.state(600.0).latitude


def test_first_trip_begins_at_t0_with_the_engine_idling_and_the_parking_brake_set() -> None:
    v = Vehicle()
    start, warm = v.state(0.0), v.state(900.0)
    assert start.ignition and start.engine_on and not start.cranking
    assert start.rpm > 700 and start.run_time_s == 0 and start.speed_kmh == 0
    assert start.parking_brake and start.battery_v > 13.5
    first_move = next(v.state(t / 10) for t in range(1, 3000) if v.state(t / 10).speed_kmh > 0)
    assert not first_move.parking_brake
    assert warm.engine_on and warm.rpm > 0
    assert warm.coolant_c > start.coolant_c + 40
    assert warm.fuel_level < start.fuel_level
    assert is_valid_vin(start.vin)


def test_a_trip_ends_with_the_ignition_on_and_the_engine_stopped_before_parking() -> None:
    v = Vehicle()
    states = [v.state(t / 2) for t in range(0, 2 * 3600)]
    end = next(i for i, (a, b) in enumerate(itertools.pairwise(states)) if a.engine_on and not b.engine_on) + 1
    key_on = list(itertools.takewhile(lambda s: s.ignition, states[end:]))
    assert len(key_on) >= 2 * 5  # at least 5 s with the ignition on
    assert all(s.rpm == 0 and s.speed_kmh == 0 and s.parking_brake for s in key_on)
    assert not states[end + len(key_on)].ignition
    restart = next(s for s in states[end + len(key_on) :] if s.ignition)
    assert not restart.engine_on  # cranking: ignition on, engine not yet running


def test_steering_wheel_follows_yaw_rate_and_speed() -> None:
    v = Vehicle()
    turns = [s for s in (v.state(t / 2) for t in range(600, 3000)) if s.speed_kmh > 10 and abs(s.yaw_rate_dps) > 2]
    assert turns
    for s in turns:
        road_wheel = math.atan2(2.7 * math.radians(s.yaw_rate_dps), s.speed_kmh / 3.6)
        assert s.steering_rad == pytest.approx(-15.0 * road_wheel, rel=1e-6)  # counter-clockwise positive
        assert -31.374 <= s.steering_rad <= 31.374


def test_maximum_available_torque_bounds_the_actual_torque() -> None:
    v = Vehicle()
    running = [s for s in (v.state(float(t)) for t in range(0, 1800, 3)) if s.engine_on]
    assert running
    assert all(0 < s.max_torque_pct <= 100 and s.torque_pct <= s.max_torque_pct for s in running)


def test_a_diesel_reports_its_monitors_and_def_level() -> None:
    v = Vehicle(VehicleSettings(engine="compression"))
    start, later = v.state(0.0), v.state(1200.0)
    assert set(start.monitors_complete) == {
        "mf",
        "f_s",
        "c_c",
        "nmhc",
        "n_c",
        "b_p_c_s",
        "e_g_s",
        "pf",
        "e_v_s",
        "c_s_a_s",
    }
    assert start.def_level is not None and later.def_level is not None
    assert 0 < later.def_level < start.def_level
    assert Vehicle().state(0.0).def_level is None


def test_odometer_grows_with_distance_travelled() -> None:
    v = Vehicle()
    states = [v.state(float(t)) for t in range(300, 1201)]
    integrated = sum((a.speed_kmh + b.speed_kmh) / 2 / 3600 for a, b in itertools.pairwise(states))
    travelled = states[-1].odometer_km - states[0].odometer_km
    assert travelled > 5.0
    assert travelled == pytest.approx(integrated, rel=0.01)
    assert states[-1].trip_km - states[0].trip_km == pytest.approx(travelled)


def test_position_moves_along_the_heading() -> None:
    v = Vehicle()
    checked = 0
    for t in range(300, 1500, 10):
        a, b = v.state(float(t)), v.state(t + 1.0)
        if a.speed_kmh > 30 and abs(a.yaw_rate_dps) < 0.01 and abs(b.yaw_rate_dps) < 0.01:
            assert bearing_deg(a.latitude, a.longitude, b.latitude, b.longitude) == pytest.approx(a.heading, abs=0.5)
            assert distance_m(a.latitude, a.longitude, b.latitude, b.longitude) == pytest.approx(
                (a.speed_kmh + b.speed_kmh) / 2 / 3.6, rel=0.05
            )
            checked += 1
    assert checked >= 5


def test_accelerations_match_speed_and_heading_changes() -> None:
    v = Vehicle()
    for t in range(300, 1200, 7):
        a, b = v.state(t - 0.1), v.state(float(t))
        assert b.long_accel_g * 9.80665 == pytest.approx((b.speed_kmh - a.speed_kmh) / 3.6 / 0.1, abs=1e-6)
        assert b.lat_accel_g == pytest.approx(b.speed_kmh / 3.6 * math.radians(b.yaw_rate_dps) / 9.80665, abs=1e-9)


def test_trips_end_parked_with_the_ignition_off() -> None:
    v = Vehicle(VehicleSettings(time_scale=1.0))
    states = [v.state(float(t)) for t in range(0, 3600, 5)]
    parked = [s for s in states if not s.ignition]
    assert parked and all(s.speed_kmh == 0 and s.rpm == 0 and s.battery_v < 13 for s in parked)
    assert any(s.engine_on and s.battery_v > 13.5 for s in states)


def test_gpx_track_is_replayed(tmp_path: Path) -> None:
    points = "".join(
        f'<trkpt lat="{48.0 + i * 0.0001:.4f}" lon="11.0"><ele>500</ele><time>2024-05-01T10:00:{i * 2:02d}Z</time></trkpt>'
        for i in range(20)
    )
    gpx = tmp_path / "drive.gpx"
    gpx.write_text(f'<gpx xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>{points}</trkseg></trk></gpx>')
    state = Vehicle(vehicle_settings({"track": str(gpx)})).state(5.0)
    assert state.latitude == pytest.approx(48.00025, abs=1e-6)
    assert state.heading == pytest.approx(0.0, abs=0.1)
    assert state.speed_kmh == pytest.approx(11.12 / 2 * 3.6, rel=0.01)  # 11.12 m every 2 s
    assert state.engine_on


def test_nmea_track_is_replayed(tmp_path: Path) -> None:
    recorded = Vehicle()
    lines = [line for t in range(600, 660) for line in epoch(recorded.state(float(t)))]
    track = tmp_path / "drive.nmea"
    track.write_text("".join(lines))
    replay = Vehicle(vehicle_settings({"track": str(track)})).state(10.0)
    original = recorded.state(610.0)
    assert replay.latitude == pytest.approx(original.latitude, abs=1e-5)
    assert replay.longitude == pytest.approx(original.longitude, abs=1e-5)


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ({"time_scale": 0}, "time_scale"),
        ({"vin": "NOTAVIN"}, "vin"),
        ({"speed": 3}, "speed"),
        ({"track": "/no/such.gpx"}, "track"),
    ],
)
def test_bad_settings_name_the_field(section: dict[str, Any], field: str) -> None:
    with pytest.raises(FlowConfigError) as info:
        Vehicle(vehicle_settings(section))
    assert f"sources.vehicle: {field}" in str(info.value)


def test_one_vehicle_per_runtime_from_the_device_config() -> None:
    runtime = Runtime(services=Services(DeviceConfig(sources={"vehicle": {"seed": 42}})))
    assert shared_vehicle(runtime) is shared_vehicle(runtime)
    assert shared_vehicle(runtime).settings.seed == 42


def test_simulated_sources_agree_with_each_other() -> None:
    """One frozen vehicle behind GNSS, OBD and motion: their values describe the same moment."""
    clock = ManualClock()
    vehicle = Vehicle(clock=clock)
    clock.now = 900.0
    services = Services(DeviceConfig(simulate=True))
    services.provide(Vehicle, vehicle)
    nodes = [
        {"id": "gnss", "type": "gnss source", "interval": 0.1, "wires": [["g"]]},
        {"id": "obd", "type": "obd source", "interval": 0.1, "wires": [["o"]]},
        {"id": "motion", "type": "motion source", "interval": 0.1, "wires": [["m"]]},
        *({"id": s, "type": "helper", "wires": []} for s in "gom"),
    ]
    with FlowHarness(device=services.device) as h:
        h.runtime.services = services
        h.deploy(nodes)
        gnss = h.first_payload("g", lambda p: p["gnss.fix"] == 3)
        obd = h.first_payload("o", lambda p: p["obd.speed"] is not None)
        motion = h.first_payload("m", lambda p: p["motion.az"] is not None)
        assert gnss["gnss.speed"] > 30
        assert obd["obd.speed"] == pytest.approx(gnss["gnss.speed"], abs=1.0)
        assert motion["motion.az"] == pytest.approx(1.0, abs=0.1)
        clock.now = 960.0
        moved = h.first_payload("g", lambda p: p["gnss.latitude"] != gnss["gnss.latitude"])
        later = h.first_payload("o", lambda p: p["obd.odo"] != obd["obd.odo"])
    straight = distance_m(
        gnss["gnss.latitude"], gnss["gnss.longitude"], moved["gnss.latitude"], moved["gnss.longitude"]
    )
    assert straight > 100
    assert (later["obd.odo"] - obd["obd.odo"]) * 1000 >= straight * 0.95
