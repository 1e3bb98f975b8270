"""``motion source``: IIO accelerometer and gyroscope into ``motion.*`` (Appendix A.2).

Settings (``[sources.motion]``): ``iio_root`` (``/sys/bus/iio/devices``), ``accel_name``
and ``gyro_name`` (IIO device names; empty: the first device with the channel), ``yaw``
(``gyro``: the integrated z gyroscope, or the GNSS heading when no gyroscope is found;
``heading``: always the GNSS heading). Values in g and deg/s; roll and pitch from
gravity (see :mod:`.attitude`). The GNSS heading arrives on its input: wire the GNSS
source (or anything sending ``gnss.heading``) into it, as the default flow does.
Simulated: a fake sysfs tree written by the vehicle model.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from flowengine.errors import DeviceIOError
from flowengine.message import Msg
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
    yaw: Literal["gyro", "heading"] = Field(
        default="gyro", description="gyro: integrated z gyroscope (GNSS heading without one); heading: GNSS heading"
    )


class MotionSourceNode(SourceNode):
    """Reads both sensors every ``interval``; a vanished device turns every value invalid.

    Input: messages whose ``payload`` holds ``gnss.heading`` (the yaw without a gyroscope).
    """

    accepts_input = True

    prefixes: ClassVar[tuple[str, ...]] = ("motion",)
    keys: ClassVar[tuple[str, ...]] = KEYS
    Settings: ClassVar[type[BaseModel] | None] = MotionSettings

    async def on_start(self) -> None:
        self.imu: SimulatedImu | None = None
        self.yaw = 0.0
        self.heading: float | None = None
        await super().on_start()

    def on_input(self, msg: Msg) -> None:
        payload = msg.get("payload")
        heading = payload.get("gnss.heading") if isinstance(payload, dict) else None
        if isinstance(heading, (int, float)) and not isinstance(heading, bool):
            self.heading = float(heading)

    async def run_backend(self) -> None:
        root = self.hw.iio_root
        if self.simulated and self.imu is None:
            period = min(0.1, self.config.interval)  # type: ignore[attr-defined]
            vehicle = shared_vehicle(self.runtime)  # on the loop: one vehicle per runtime
            self.imu = await in_thread(lambda: SimulatedImu(vehicle, period).start())
        if self.imu is not None:
            root = self.imu.root
        accel = await in_thread(find_device, root, "accel", self.hw.accel_name)
        gyro = await in_thread(_find_gyro, root, self.hw.gyro_name)
        yaw_from = "gyroscope" if gyro is not None and self.hw.yaw == "gyro" else "GNSS heading"
        self.log.info(
            "accelerometer %s, gyroscope %s, yaw from %s", accel.name, gyro.name if gyro else "none", yaw_from
        )
        await self._poll(accel, gyro)

    async def _poll(self, accel: Path, gyro: Path | None) -> None:
        interval = self.config.interval  # type: ignore[attr-defined]
        last = time.monotonic()
        while True:
            (ax, ay, az), rates = await in_thread(_read_both, accel, gyro)
            now = time.monotonic()
            if rates is not None and self.hw.yaw == "gyro":
                self.yaw = integrate_yaw(self.yaw, rates[2], now - last)
                yaw: float | None = self.yaw
            else:
                yaw = self.gnss_heading()
            last = now
            self.publish(_values((ax, ay, az), rates, yaw))
            await asyncio.sleep(interval)

    def gnss_heading(self) -> float | None:
        """The latest GNSS heading that arrived on the input (None before the first)."""
        return self.heading

    async def on_close(self) -> None:
        if self.imu is not None:
            await in_thread(self.imu.stop)


Vector = tuple[float, float, float]


def _find_gyro(root: Path, name: str) -> Path | None:
    """The gyroscope device, None when the board has none (yaw then comes from the GNSS heading)."""
    try:
        return find_device(root, "anglvel", name)
    except DeviceIOError:
        return None


def _read_both(accel: Path, gyro: Path | None) -> tuple[Vector, Vector | None]:
    return read_accel_g(accel), read_gyro_dps(gyro) if gyro is not None else None


def _values(accel: Vector, rates: Vector | None, yaw: float | None) -> dict[str, Any]:
    roll, pitch = roll_pitch(*accel)
    numbers = (*accel, *(rates or (None, None, None)), roll, pitch, yaw)
    precision = (4, 4, 4, 3, 3, 3, 2, 2, 2)
    return {
        key: None if value is None else round(value, digits)
        for key, value, digits in zip(KEYS, numbers, precision, strict=True)
    }
