"""A simulated IMU: a fake IIO sysfs tree in a temp dir, written from the vehicle model.

Two devices as the Linux st_lsm6dsx driver exposes them (``lsm6dsl_accel`` and
``lsm6dsl_gyro``; ``gyro=False`` leaves the gyroscope out, as on accelerometer-only
boards), raw counts with the driver's ±2 g and ±250 dps scales. Files are
replaced atomically so a reader never sees half a number. The motion node reads the
tree with the same code it uses on ``/sys/bus/iio/devices``.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from pathlib import Path

from nodes.sources.motion.attitude import specific_force
from nodes.sources.sim.periodic import PeriodicDevice
from nodes.sources.sim.vehicle import Vehicle, VehicleState

ACCEL_SCALE = 0.000598  # m/s² per count (0.061 mg)
GYRO_SCALE = 0.000152716  # rad/s per count (8.75 mdps)
G = 9.80665


class SimulatedImu(PeriodicDevice):
    """Owns the temp tree and the writer thread; :meth:`stop` is idempotent and removes the tree."""

    def __init__(self, vehicle: Vehicle, period: float = 0.1, root: Path | None = None, *, gyro: bool = True) -> None:
        super().__init__("sim-imu", period)
        self.vehicle, self.has_gyro = vehicle, gyro
        self.root = root or Path(tempfile.mkdtemp(prefix="flowengine-iio-"))
        self.accel = self.root / "iio:device0"
        self.gyro = self.root / "iio:device1"

    def start(self) -> SimulatedImu:
        self.plug()
        self.start_thread()
        return self

    def plug(self) -> None:
        """Create both devices (again, after :meth:`unplug`)."""
        devices = [(self.accel, "lsm6dsl_accel", "accel", ACCEL_SCALE)]
        if self.has_gyro:
            devices.append((self.gyro, "lsm6dsl_gyro", "anglvel", GYRO_SCALE))
        for device, name, channel, scale in devices:
            device.mkdir(parents=True, exist_ok=True)
            _write(device / "name", name)
            _write(device / f"in_{channel}_scale", f"{scale:.9f}")
        self.write(self.vehicle.state())

    def unplug(self) -> None:
        """Remove both devices, as when the sensor's driver unbinds."""
        for device in (self.accel, self.gyro):
            shutil.rmtree(device, ignore_errors=True)

    def write(self, state: VehicleState) -> None:
        ax, ay, az = specific_force(state.long_accel_g, state.lat_accel_g, state.roll, state.pitch)
        gz = -math.radians(state.yaw_rate_dps)  # z up: counter-clockwise positive
        for device, channel, values, scale in (
            (self.accel, "accel", (ax * G, ay * G, az * G), ACCEL_SCALE),
            (self.gyro, "anglvel", (0.0, 0.0, gz), GYRO_SCALE),
        ):
            if device.exists():
                for axis, value in zip("xyz", values, strict=True):
                    _write(device / f"in_{channel}_{axis}_raw", str(round(value / scale)))

    def tick(self) -> None:
        with contextlib.suppress(OSError):  # unplugged while writing
            self.write(self.vehicle.state())

    def release(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text + "\n")
    os.replace(tmp, path)
