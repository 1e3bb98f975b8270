"""A simulated IMU: a fake IIO tree in a temp dir, with the sysfs files and the buffered interface.

Two devices as the Linux st_lsm6dsx driver exposes them (``lsm6dsl_accel`` and
``lsm6dsl_gyro``; ``gyro=False`` leaves the gyroscope out, as on accelerometer-only
boards), raw counts with the driver's ±2 g and ±250 dps scales. The motion node reads
the tree with the same code it uses on ``/sys/bus/iio/devices`` and ``/dev``.

Data is made when needed, never on a fast timer:

- the raw sysfs files are written by :meth:`SimulatedImu.refresh` (the in-process
  reader calls it right before it reads), or on the slow timer (``period``, 1 s)
  for a reader in another process (``raw_on_timer``);
- with ``buffered`` (the default), each device has ``buffer/``, ``scan_elements/`` and a
  FIFO standing in for ``/dev/iio:deviceN`` (under :attr:`SimulatedImu.dev_root`). While
  a reader has the buffer enabled, each tick of the slow timer writes every sample
  since the last tick at the ``sampling_frequency`` the reader chose, taken from the
  vehicle's per-step motion history: one write per second, whatever the rate.

Files are replaced atomically so a reader never sees half a number.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nodes.sources.motion.attitude import specific_force
from nodes.sources.sim.periodic import PeriodicDevice
from nodes.sources.sim.vehicle import Vehicle, VehicleState

ACCEL_SCALE = 0.000598  # m/s² per count (0.061 mg)
GYRO_SCALE = 0.000152716  # rad/s per count (8.75 mdps)
G = 9.80665
#: The rates the LSM6DSL offers (Hz).
RATES = "12.5 26 52 104 208 416"
MOTION_KEYS = ("long_accel_g", "lat_accel_g", "roll", "pitch", "yaw_rate_dps")
#: One scan: x, y, z as le:s16, two bytes of padding, the timestamp as le:s64 (ns).
SCAN = struct.Struct("<hhhxxq")


@dataclass
class _Device:
    path: Path
    name: str
    channel: str
    scale: float
    fifo: Path
    fd: int | None = None
    last: float | None = None  # simulated seconds of the last sample written


class SimulatedImu(PeriodicDevice):
    """Owns the temp tree and the slow timer; :meth:`stop` is idempotent and removes the tree."""

    def __init__(
        self,
        vehicle: Vehicle,
        period: float = 1.0,
        root: Path | None = None,
        *,
        gyro: bool = True,
        buffered: bool = True,
        raw_on_timer: bool = True,
    ) -> None:
        super().__init__("sim-imu", period)
        self.vehicle, self.has_gyro, self.buffered, self.raw_on_timer = vehicle, gyro, buffered, raw_on_timer
        self.root = root or Path(tempfile.mkdtemp(prefix="flowengine-iio-"))
        self.dev_root = self.root / "dev"
        self.accel = self.root / "iio:device0"
        self.gyro = self.root / "iio:device1"
        self.devices = [_Device(self.accel, "lsm6dsl_accel", "accel", ACCEL_SCALE, self.dev_root / "iio:device0")]
        if gyro:
            self.devices.append(
                _Device(self.gyro, "lsm6dsl_gyro", "anglvel", GYRO_SCALE, self.dev_root / "iio:device1")
            )

    def start(self) -> SimulatedImu:
        self.plug()
        self.start_thread()
        return self

    def plug(self) -> None:
        """Create both devices (again, after :meth:`unplug`)."""
        for device in self.devices:
            device.path.mkdir(parents=True, exist_ok=True)
            _write(device.path / "name", device.name)
            _write(device.path / f"in_{device.channel}_scale", f"{device.scale:.9f}")
            if self.buffered:
                self._add_buffer(device)
        self.refresh()

    def _add_buffer(self, device: _Device) -> None:
        (device.path / "buffer").mkdir(exist_ok=True)
        scan = device.path / "scan_elements"
        scan.mkdir(exist_ok=True)
        for index, axis in enumerate("xyz"):
            _element(scan, f"in_{device.channel}_{axis}", index, "le:s16/16>>0")
        _element(scan, "in_timestamp", 3, "le:s64/64>>0")
        for name, text in (("enable", "0"), ("length", "64"), ("watermark", "1")):
            _write(device.path / "buffer" / name, text)
        _write(device.path / "sampling_frequency", "12.5")
        _write(device.path / "sampling_frequency_available", RATES)
        _write(device.path / "current_timestamp_clock", "realtime")
        self.dev_root.mkdir(exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            device.fifo.unlink()
        os.mkfifo(device.fifo)
        device.fd = os.open(device.fifo, os.O_RDWR | os.O_NONBLOCK)  # holds a writer: readers never block in open
        device.last = None

    def unplug(self) -> None:
        """Remove both devices, as when the sensor's driver unbinds (a reader of the FIFO sees it end)."""
        for device in self.devices:
            if device.fd is not None:
                with contextlib.suppress(OSError):
                    os.close(device.fd)
                device.fd = None
            shutil.rmtree(device.path, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                device.fifo.unlink()

    def refresh(self) -> None:
        """Write the raw sysfs files from the vehicle now (a reader calls this right before reading)."""
        with contextlib.suppress(OSError):  # unplugged while writing
            self.write(self.vehicle.state())

    def write(self, state: VehicleState) -> None:
        for device in self.devices:
            if device.path.exists():
                for axis, value in zip("xyz", _values(device.channel, state), strict=True):
                    _write(device.path / f"in_{device.channel}_{axis}_raw", str(round(value / device.scale)))

    def tick(self) -> None:
        streaming = False
        for device in self.devices:
            with contextlib.suppress(OSError):
                streaming |= self._stream(device)
        if self.raw_on_timer and not streaming:
            self.refresh()

    def _stream(self, device: _Device) -> bool:
        """Write the samples since the last tick while the buffer is enabled; False when it is not."""
        if device.fd is None or (device.path / "buffer" / "enable").read_text().strip() != "1":
            device.last = None
            return False
        rate = float((device.path / "sampling_frequency").read_text())
        scale = self.vehicle.settings.time_scale
        since = device.last if device.last is not None else self.vehicle.elapsed() - self.period * scale
        now, history = self.vehicle.recent_motion(since - 1.0)
        data = bytearray()
        t = since + scale / rate
        while t <= now.elapsed_s:
            stamp = now.unix_time - (now.elapsed_s - t) / scale
            values = _values(device.channel, _motion_at(history, t, now))
            data += SCAN.pack(*(round(v / device.scale) for v in values), round(stamp * 1e9))
            device.last, t = t, t + scale / rate
        if data:
            with contextlib.suppress(BlockingIOError):  # nobody reads and the FIFO is full: samples are lost
                os.write(device.fd, bytes(data))
        return True

    def release(self) -> None:
        self.unplug()
        shutil.rmtree(self.root, ignore_errors=True)


def _motion_at(
    history: list[tuple[float, dict[str, float]]], t: float, now: VehicleState
) -> VehicleState | dict[str, float]:
    """The motion of the step that contains simulated instant ``t`` (the current state when beyond the history)."""
    for end, motion in history:
        if end >= t:
            return motion
    return now


def _values(channel: str, state: VehicleState | dict[str, float]) -> tuple[float, float, float]:
    """What the device measures in IIO units (m/s² or rad/s) for a state or a step's motion."""
    motion = state if isinstance(state, dict) else {k: getattr(state, k) for k in MOTION_KEYS}
    if channel == "accel":
        ax, ay, az = specific_force(*(motion[k] for k in MOTION_KEYS[:4]))
        return ax * G, ay * G, az * G
    return 0.0, 0.0, -math.radians(motion["yaw_rate_dps"])  # z up: counter-clockwise positive


def _element(scan: Path, name: str, index: int, kind: str) -> None:
    _write(scan / f"{name}_en", "0")
    _write(scan / f"{name}_index", str(index))
    _write(scan / f"{name}_type", kind)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text + "\n")
    os.replace(tmp, path)
