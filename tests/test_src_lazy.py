"""Simulators make data when it is read, coherent with the vehicle; hardware backends never import them."""

from __future__ import annotations

import json
import math
import os
import select
import subprocess
import sys
import textwrap
from pathlib import Path

import can
import pytest

from nodes.sources.motion.buffer import IioBuffer
from nodes.sources.motion.iio import Channel
from nodes.sources.motion.reader import YawIntegrator
from nodes.sources.obd.pids import decode
from nodes.sources.sim.ecu import SimulatedEcu
from nodes.sources.sim.geo import angle_diff
from nodes.sources.sim.iio_device import SimulatedImu
from nodes.sources.sim.vehicle import Vehicle

REPO = Path(__file__).resolve().parents[1]


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_buffered_imu_blocks_integrate_to_the_vehicles_heading(tmp_path: Path) -> None:
    """One write a second carries every sample since the last; their gyroscope integrates to the true turn."""
    clock = ManualClock()
    vehicle = Vehicle(clock=clock)
    imu = SimulatedImu(vehicle, root=tmp_path)
    imu.plug()  # no timer thread: the test ticks by hand
    try:
        gyro = IioBuffer(imu.gyro, imu.dev_root / imu.gyro.name, "anglvel")
        channel = Channel.open(imu.gyro, "anglvel")
        gyro.enable(10.0)
        clock.now = 1290.0  # a stretch of the simulated route with junctions
        heading = vehicle.state().heading
        imu.tick()
        yaw, turned = YawIntegrator(), 0.0
        for _ in range(120):
            clock.now += 1.0
            imu.tick()
            assert select.select([gyro.fd], [], [], 0)[0], "one block per tick"
            for t, raw in gyro.read():
                yaw.add(t, channel.convert(raw)[2])
            now = vehicle.state().heading
            turned, heading = turned + angle_diff(heading, now), now
        assert abs(turned) > 45  # the vehicle did turn in these two minutes
        assert abs(angle_diff(yaw.yaw, turned % 360)) < 3.0
        gyro.disable()
    finally:
        imu.release()


def test_buffered_imu_reads_gravity_and_ends_when_unplugged(tmp_path: Path) -> None:
    clock = ManualClock()
    imu = SimulatedImu(Vehicle(clock=clock), root=tmp_path)
    imu.plug()
    try:
        accel = IioBuffer(imu.accel, imu.dev_root / imu.accel.name, "accel")
        assert accel.enable(10.0) == 12.5  # the lowest rate the sensor offers at or above 10
        clock.now += 1.0
        imu.tick()
        samples = accel.read()
        assert len(samples) == 12 or len(samples) == 13
        az = [Channel.open(imu.accel, "accel").convert(raw)[2] for _, raw in samples]
        assert all(0.95 < g < 1.05 for g in az)
        imu.unplug()
        with pytest.raises(Exception, match="went away"):
            accel.read()
    finally:
        imu.release()


def test_ecu_answers_from_the_vehicle_at_the_instant_of_the_request() -> None:
    clock = ManualClock()
    vehicle = Vehicle(clock=clock)
    ecu = SimulatedEcu(vehicle, "test-lazy-ecu").start()
    tester = can.Bus(interface="virtual", channel="test-lazy-ecu")
    try:
        for at in (600.0, 1200.0):
            clock.now = at
            tester.send(
                can.Message(arbitration_id=0x7DF, data=b"\x02\x01\x0d\x55\x55\x55\x55\x55", is_extended_id=False)
            )
            reply = tester.recv(5.0)
            assert reply is not None and reply.data[1:3] == b"\x41\x0d"
            assert decode(0x0D, bytes(reply.data[3:4]))["obd.speed"] == min(255, round(vehicle.state().speed_kmh))
    finally:
        tester.shutdown()
        ecu.stop()


HARDWARE_ONLY = textwrap.dedent(
    """
    import json, sys
    from flowengine.config import DeviceConfig
    from flowengine.testing import FlowHarness, wait_until

    nowhere = sys.argv[1]
    sources = {
        "gnss": {"port": nowhere + "/ttyGNSS"},
        "obd": {"interface": "virtual", "channel": "no-ecu-here", "timeout_s": 0.02},
        "motion": {"iio_root": nowhere, "dev_root": nowhere},
        "modem1": {"port": nowhere + "/ttyModem", "sys_net": nowhere},
        "1-wire": {"devices_dir": nowhere},
        "sysinfo": {"sys_net": nowhere},
    }
    types = ["gnss", "obd", "io", "motion", "cellular", "sysinfo", "1-wire"]
    with FlowHarness(device=DeviceConfig(sources=sources)) as h:
        h.deploy([{"id": t, "type": t + " source", "backend": "hardware", "wires": []} for t in types])
        wait_until(lambda: all(h.node(t).healthy is not None for t in types), 20, what="every source tried")
    ours = [m for m in sys.modules if m.startswith("nodes.sources")]
    print(json.dumps(sorted(m for m in ours if ".sim" in m or m.rsplit(".", 1)[-1].startswith("sim_"))))
    """
)


def test_hardware_backends_never_import_a_simulator(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", HARDWARE_ONLY, str(tmp_path)], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_yaw_rate_is_kept_on_the_clock_of_the_samples() -> None:
    yaw = YawIntegrator()
    for i in range(11):
        yaw.add(i * 0.1, -10.0)  # turning right at 10 deg/s for one second
    assert math.isclose(yaw.yaw, 10.0)
