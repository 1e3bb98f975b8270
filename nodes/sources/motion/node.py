"""``motion source``: IIO accelerometer and gyroscope into ``motion.*`` (Appendix A.2), and samples.

Settings (``[sources.motion]``): ``iio_root`` (``/sys/bus/iio/devices``), ``dev_root``
(``/dev``, where the buffered interface's ``iio:deviceN`` nodes are), ``accel_name`` and
``gyro_name`` (IIO device names; empty: the first device with the channel), ``yaw``
(``gyro``: the integrated z gyroscope, or the GNSS heading when no gyroscope is found;
``heading``: always the GNSS heading). Values in g and deg/s; roll and pitch from
gravity (see :mod:`.attitude`). The GNSS heading arrives on its input: wire the GNSS
source (or anything sending ``gnss.heading``) into it, as the default flow does.
Simulated: a fake IIO tree with the buffered interface, written from the vehicle model.

Output 1 sends the ``motion.*`` values every ``interval``. Output 2 ("samples") sends
accelerometer and gyroscope samples at ``sample_rate`` Hz, one message each, but only
while a running node wired to it says it wants them: a node that has a method
``samples_wanted(self) -> float`` (samples per second, 0 for none) is asked at start,
after every deploy and at every reading. The sensor is read only as fast as that, and
yaw needs (:mod:`.reader`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from flowengine.errors import DeviceIOError
from flowengine.message import Msg, make_msg
from flowengine.node import NodeConfig
from nodes.sources.base import SourceConfig, SourceNode
from nodes.sources.motion.attitude import roll_pitch
from nodes.sources.motion.iio import find_device
from nodes.sources.motion.reader import MotionReader, Reading, Sample

if TYPE_CHECKING:
    from nodes.sources.sim.iio_device import SimulatedImu

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
    dev_root: Path = Field(default=Path("/dev"), description="where the IIO device nodes of the buffered interface are")
    accel_name: str = ""
    gyro_name: str = ""
    yaw: Literal["gyro", "heading"] = Field(
        default="gyro", description="gyro: integrated z gyroscope (GNSS heading without one); heading: GNSS heading"
    )


class MotionConfig(SourceConfig):
    sample_rate: float = Field(
        default=10.0,
        gt=0,
        le=200,
        description="most samples per second on output 2, sent only while a node wired to it wants samples",
    )


class MotionSourceNode(SourceNode):
    """Reads both sensors as fast as its consumers need; values every ``interval``, samples on demand.

    Input: messages whose ``payload`` holds ``gnss.heading`` (the yaw without a gyroscope).
    Output 2: ``{"motion.t", "motion.ax" .. "motion.gz"}`` samples for nodes with ``samples_wanted()``.
    """

    Config: ClassVar[type[NodeConfig]] = MotionConfig
    outputs = 2
    accepts_input = True

    prefixes: ClassVar[tuple[str, ...]] = ("motion",)
    keys: ClassVar[tuple[str, ...]] = KEYS
    Settings: ClassVar[type[BaseModel] | None] = MotionSettings

    async def on_start(self) -> None:
        self.imu: SimulatedImu | None = None
        self.reader: MotionReader | None = None
        self.heading: float | None = None
        await super().on_start()

    def on_input(self, msg: Msg) -> None:
        payload = msg.get("payload")
        heading = payload.get("gnss.heading") if isinstance(payload, dict) else None
        if isinstance(heading, (int, float)) and not isinstance(heading, bool):
            self.heading = float(heading)

    def on_deployed(self, started: set[str]) -> None:
        self.update_demand()

    def sample_demand(self) -> float:
        """Samples per second the nodes wired to output 2 want (capped at ``sample_rate``), 0 for none."""
        wanted = 0.0
        for target in self.runtime.targets(self, 1):
            ask = getattr(target, "samples_wanted", None)
            if callable(ask) and not target.closed:
                try:
                    wanted = max(wanted, float(ask()))
                except Exception as exc:  # a consumer's bug must not stop the readings
                    self.log.debug("samples_wanted of %s failed: %s", target.id, exc)
        return min(self.config.sample_rate, wanted) if wanted > 0 else 0.0  # type: ignore[attr-defined]

    def update_demand(self) -> None:
        if self.reader is not None:
            self.reader.want_samples(self.sample_demand())

    async def run_backend(self) -> None:
        root, dev_root, refresh = self.hw.iio_root, self.hw.dev_root, None
        if self.simulated:
            if self.imu is None:
                self.imu = await self._simulated_imu()
            root, dev_root, refresh = self.imu.root, self.imu.dev_root, self.imu.refresh
        accel = await self.device.call(find_device, root, "accel", self.hw.accel_name)
        gyro = await self.device.call(_find_gyro, root, self.hw.gyro_name)
        yaw_from = "gyroscope" if gyro is not None and self.hw.yaw == "gyro" else "GNSS heading"
        interval: float = self.config.interval  # type: ignore[attr-defined]
        reader = await self.device.call(
            lambda: MotionReader(
                accel, gyro, dev_root, yaw_from_gyro=yaw_from == "gyroscope", interval=interval, refresh=refresh
            )
        )
        self.log.info(
            "accelerometer %s, gyroscope %s, yaw from %s", accel.name, gyro.name if gyro else "none", yaw_from
        )
        self.reader = reader
        reader.want_samples(self.sample_demand())
        try:
            await self.device.stream(reader.run, self._on_reading, self._on_samples)
        finally:
            self.reader = None

    async def _simulated_imu(self) -> SimulatedImu:
        """The simulated IMU (the simulator is imported only here)."""
        vehicle = await self.simulator("nodes.sources.sim.iio_device")
        from nodes.sources.sim.iio_device import SimulatedImu

        return await self.device.call(lambda: SimulatedImu(vehicle, raw_on_timer=False).start())

    def _on_reading(self, reading: Reading) -> None:
        if self.closed or self.reader is None:
            return
        yaw = reading.yaw if reading.yaw is not None else self.gnss_heading()
        self.publish(_values(reading.accel, reading.rates, yaw))
        self.status("green", "dot", self.reader.mode)
        self.update_demand()

    def _on_samples(self, samples: list[Sample]) -> None:
        if self.closed or self.reader is None:
            return
        self.send([None, [make_msg(_sample(s), topic="motion/samples") for s in samples]])

    def gnss_heading(self) -> float | None:
        """The latest GNSS heading that arrived on the input (None before the first)."""
        return self.heading

    async def on_close(self) -> None:
        await super().on_close()
        if self.imu is not None:
            self.imu.stop()


Vector = tuple[float, float, float]


def _find_gyro(root: Path, name: str) -> Path | None:
    """The gyroscope device, None when the board has none (yaw then comes from the GNSS heading)."""
    try:
        return find_device(root, "anglvel", name)
    except DeviceIOError:
        return None


def _sample(sample: Sample) -> dict[str, Any]:
    rates = sample.rates or (None, None, None)
    numbers = (*sample.accel, *rates)
    values = {k: None if v is None else round(v, 4) for k, v in zip(KEYS[:6], numbers, strict=True)}
    return {"motion.t": round(sample.t, 3), **values}


def _values(accel: Vector, rates: Vector | None, yaw: float | None) -> dict[str, Any]:
    roll, pitch = roll_pitch(*accel)
    numbers = (*accel, *(rates or (None, None, None)), roll, pitch, yaw)
    precision = (4, 4, 4, 3, 3, 3, 2, 2, 2)
    return {
        key: None if value is None else round(value, digits)
        for key, value, digits in zip(KEYS, numbers, precision, strict=True)
    }
