"""Motion source through a fake sysfs tree: simulated IMU, sensor vanishes and returns."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from flowengine.config import DeviceConfig
from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness, run_source
from nodes.sources.motion.node import KEYS
from nodes.sources.sim.iio_device import SimulatedImu
from nodes.sources.sim.vehicle import Vehicle

SINK = {"id": "out", "type": "helper", "wires": []}


def run_motion(device: DeviceConfig, **config: Any) -> FlowHarness:
    return run_source("motion", "motion source", device, interval=0.05, **config)


def valid(payload: dict[str, Any]) -> bool:
    return payload.get("motion.az") is not None


def test_simulated_imu_reads_gravity_in_g() -> None:
    with run_motion(DeviceConfig(simulate=True)) as h:
        payload = h.first_payload("out", valid)
        assert set(payload) == {*KEYS, "motion.ts"}
        assert 0.9 < payload["motion.az"] < 1.1
        assert all(type(payload[k]) is float for k in KEYS)


def test_sensor_vanishes_and_returns(tmp_path: Path) -> None:
    imu = SimulatedImu(Vehicle(), period=0.05, root=tmp_path / "iio").start()
    device = DeviceConfig(sources={"motion": {"iio_root": str(imu.root), "accel_name": "lsm6dsl_accel"}})
    try:
        with run_motion(device, backend="hardware") as h:
            h.first_payload("out", valid)
            imu.unplug()
            h.first_payload("out", lambda p: all(p[k] is None for k in KEYS))
            assert h.node("motion").last_status["fill"] == "red"
            imu.plug()
            h.first_payload("out", valid, timeout=15.0)
    finally:
        imu.stop()


def config_problems(device: DeviceConfig, caplog: pytest.LogCaptureFixture) -> str:
    """What a deploy says about a bad device config: refused with the problems, or logged when the node starts."""
    h = FlowHarness(device=device)
    try:
        with caplog.at_level(logging.ERROR):
            h.deploy([{"id": "motion", "type": "motion source", "wires": []}])
    except FlowConfigError as exc:
        return str(exc)
    finally:
        h.close()
    return caplog.text


def test_unknown_setting_is_named(caplog: pytest.LogCaptureFixture) -> None:
    problems = config_problems(DeviceConfig(sources={"motion": {"iio_rot": "/x"}}), caplog)
    assert "sources.motion: node motion: iio_rot" in problems


class FrozenClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_yaw_follows_the_gnss_heading_on_its_input() -> None:
    device = DeviceConfig(simulate=True, sources={"motion": {"yaw": "heading"}})
    with FlowHarness(device=device) as h:
        h.deploy([{"id": "motion", "type": "motion source", "interval": 0.05, "wires": [["out"]]}, SINK])
        h.inject("motion", payload={"gnss.heading": 211.5, "gnss.speed": 40.0})
        payload = h.first_payload("out", lambda p: valid(p) and p["motion.yaw"] == 211.5)
    assert payload["motion.gz"] is not None  # the gyroscope is still read


def test_board_without_gyroscope_takes_yaw_from_the_gnss_heading(tmp_path: Path) -> None:
    imu = SimulatedImu(Vehicle(), period=0.05, root=tmp_path / "iio", gyro=False).start()
    device = DeviceConfig(sources={"motion": {"iio_root": str(imu.root)}})
    try:
        with FlowHarness(device=device) as h:
            node = {"id": "motion", "type": "motion source", "backend": "hardware", "interval": 0.05}
            h.deploy([{**node, "wires": [["out"]]}, SINK])
            assert h.first_payload("out", valid)["motion.yaw"] is None  # no heading yet
            h.inject("motion", payload={"gnss.heading": 123.4})
            payload = h.first_payload("out", lambda p: valid(p) and p["motion.yaw"] == 123.4)
            assert payload["motion.gx"] is None and payload["motion.gz"] is None
    finally:
        imu.stop()
