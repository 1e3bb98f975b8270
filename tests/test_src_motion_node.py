"""Motion source through a fake sysfs tree: simulated IMU, sensor vanishes and returns."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flowengine.config import DeviceConfig
from flowengine.testing import FlowHarness
from nodes.sources.motion.node import KEYS
from nodes.sources.sim.iio_device import SimulatedImu
from nodes.sources.sim.vehicle import Vehicle


def run_motion(device: DeviceConfig, **config: Any) -> FlowHarness:
    h = FlowHarness(services={"device": device})
    node = {"id": "motion", "type": "motion source", "interval": 0.05, "wires": [["out"]], **config}
    h.deploy([node, {"id": "out", "type": "helper", "wires": []}])
    return h


def wait_payload(h: FlowHarness, check: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        payload = h.one("out", timeout=max(0.01, deadline - time.monotonic()))["payload"]
        if check(payload):
            return payload
    raise AssertionError("no matching payload")


def valid(payload: dict[str, Any]) -> bool:
    return payload.get("motion.az") is not None


def test_simulated_imu_reads_gravity_in_g() -> None:
    with run_motion(DeviceConfig(simulate=True)) as h:
        payload = wait_payload(h, valid)
        assert set(payload) == {*KEYS, "motion.ts"}
        assert 0.9 < payload["motion.az"] < 1.1
        assert all(type(payload[k]) is float for k in KEYS)


def test_sensor_vanishes_and_returns(tmp_path: Path) -> None:
    imu = SimulatedImu(Vehicle(), period=0.05, root=tmp_path / "iio").start()
    device = DeviceConfig(sources={"motion": {"iio_root": str(imu.root), "accel_name": "lsm6dsl_accel"}})
    try:
        with run_motion(device, backend="hardware") as h:
            wait_payload(h, valid)
            imu.unplug()
            wait_payload(h, lambda p: all(p[k] is None for k in KEYS))
            assert h.node("motion").last_status["fill"] == "red"
            imu.plug()
            wait_payload(h, valid, timeout=15.0)
    finally:
        imu.stop()


def test_unknown_setting_is_named(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    with run_motion(DeviceConfig(sources={"motion": {"iio_rot": "/x"}})) as h:
        assert h.nothing("out", within=0.3)
    assert "sources.motion" in caplog.text and "iio_rot" in caplog.text
