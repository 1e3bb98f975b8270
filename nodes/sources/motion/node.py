"""``motion source``: IIO accelerometer and gyroscope into ``motion.*`` (Appendix A.2).

Settings (``[sources.motion]``): ``iio_root`` (``/sys/bus/iio/devices``), ``accel_name``
and ``gyro_name`` (IIO device names; empty: the first device with the channel). Values
in g and deg/s; roll and pitch from gravity, yaw from the integrated z gyroscope (see
:mod:`.attitude`). Simulated: a fake sysfs tree written by the vehicle model.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from nodes.sources.base import SourceNode, in_thread
from nodes.sources.motion.attitude import integrate_yaw, roll_pitch
from nodes.sources.motion.iio import find_device, read_accel_g, read_gyro_dps
from nodes.sources.sim.iio_device import SimulatedImu
from nodes.sources.sim.vehicle import shared_vehicle

KEYS = (
    "motion.ax",
    "motion.ay",
    "motion.az",
    "motion.gx",
    "motion.gy",
    "motion.gz",
    "motion.roll",
    "motion.pitch",
    "motion.yaw",
)


class MotionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    iio_root: Path = Path("/sys/bus/iio/devices")
    accel_name: str = ""
    gyro_name: str = ""


class MotionSourceNode(SourceNode):
    """Reads both sensors every ``interval``; a vanished device turns every value invalid."""

    prefixes: ClassVar[tuple[str, ...]] = ("motion",)
    keys: ClassVar[tuple[str, ...]] = KEYS
    Settings: ClassVar[type[BaseModel] | None] = MotionSettings

    async def on_start(self) -> None:
        self.imu: SimulatedImu | None = None
        self.yaw = 0.0
        await super().on_start()

    async def run_backend(self) -> None:
        root = self.hw.iio_root
        if self.simulated and self.imu is None:
            period = min(0.1, self.config.interval)  # type: ignore[attr-defined]
            vehicle = shared_vehicle(self.runtime)  # on the loop: one vehicle per runtime
            self.imu = await in_thread(lambda: SimulatedImu(vehicle, period).start())
        if self.imu is not None:
            root = self.imu.root
        accel = await in_thread(find_device, root, "accel", self.hw.accel_name)
        gyro = await in_thread(find_device, root, "anglvel", self.hw.gyro_name)
        self.log.info("accelerometer %s, gyroscope %s", accel.name, gyro.name)
        await self._poll(accel, gyro)

    async def _poll(self, accel: Path, gyro: Path) -> None:
        interval = self.config.interval  # type: ignore[attr-defined]
        last = time.monotonic()
        while True:
            (ax, ay, az), (gx, gy, gz) = await in_thread(_read_both, accel, gyro)
            now = time.monotonic()
            self.yaw = integrate_yaw(self.yaw, gz, now - last)
            last = now
            self.publish(_values(ax, ay, az, gx, gy, gz, self.yaw))
            await asyncio.sleep(interval)

    async def on_close(self) -> None:
        if self.imu is not None:
            await in_thread(self.imu.stop)


def _read_both(accel: Path, gyro: Path) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    return read_accel_g(accel), read_gyro_dps(gyro)


def _values(ax: float, ay: float, az: float, gx: float, gy: float, gz: float, yaw: float) -> dict[str, Any]:
    roll, pitch = roll_pitch(ax, ay, az)
    numbers = (ax, ay, az, gx, gy, gz, roll, pitch, yaw)
    precision = (4, 4, 4, 3, 3, 3, 2, 2, 2)
    return {key: round(value, digits) for key, value, digits in zip(KEYS, numbers, precision, strict=True)}
