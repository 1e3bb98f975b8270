"""Linux IIO sysfs reading: find accelerometer and gyroscope devices, read scaled channels.

A channel value is ``(in_<type>_<axis>_raw + offset) * scale`` with the per-axis scale or
offset file when present, else the shared one. IIO reports m/s² and rad/s; we convert to
g and deg/s. Blocking file reads: the motion reader calls these on its device thread.
A :class:`Channel` reads scale and offset once, so a reading is three small reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from flowengine.errors import DeviceIOError

G = 9.80665
AXES = ("x", "y", "z")


def find_device(root: Path, channel: str, name: str = "") -> Path:
    """The first ``iio:device*`` under ``root`` with ``in_<channel>_x_raw`` (and the given ``name``)."""
    try:
        candidates = sorted(root.glob("iio:device*"))
    except OSError as exc:
        raise DeviceIOError(f"cannot list {root}: {exc.strerror}") from exc
    for device in candidates:
        if not (device / f"in_{channel}_x_raw").exists():
            continue
        if name and _read_text(device / "name") != name:
            continue
        return device
    wanted = f" named {name!r}" if name else ""
    raise DeviceIOError(f"no IIO {channel} device{wanted} under {root}")


def read_vector(device: Path, channel: str) -> tuple[float, float, float]:
    """Scaled x, y, z of one channel type in IIO units."""
    x, y, z = (_scaled(device, channel, axis) for axis in AXES)
    return x, y, z


def read_accel_g(device: Path) -> tuple[float, float, float]:
    x, y, z = read_vector(device, "accel")
    return x / G, y / G, z / G


def read_gyro_dps(device: Path) -> tuple[float, float, float]:
    x, y, z = read_vector(device, "anglvel")
    return math.degrees(x), math.degrees(y), math.degrees(z)


@dataclass(frozen=True)
class Channel:
    """One vector channel of a device (``accel`` or ``anglvel``), its scale and offset read once."""

    device: Path
    kind: str
    scales: tuple[float, float, float]
    offsets: tuple[float, float, float]

    @classmethod
    def open(cls, device: Path, kind: str) -> Channel:
        scales = tuple(_optional(device, f"in_{kind}_{a}_scale", f"in_{kind}_scale", 1.0) for a in AXES)
        offsets = tuple(_optional(device, f"in_{kind}_{a}_offset", f"in_{kind}_offset", 0.0) for a in AXES)
        return cls(device, kind, scales, offsets)  # type: ignore[arg-type]

    def read_raw(self) -> tuple[int, int, int]:
        x, y, z = (int(float(_read_text(self.device / f"in_{self.kind}_{a}_raw"))) for a in AXES)
        return x, y, z

    def convert(self, raw: tuple[int, int, int]) -> tuple[float, float, float]:
        """Raw counts -> g (accelerometer) or deg/s (gyroscope)."""
        x, y, z = ((r + o) * s for r, o, s in zip(raw, self.offsets, self.scales, strict=True))
        if self.kind == "accel":
            return x / G, y / G, z / G
        return math.degrees(x), math.degrees(y), math.degrees(z)

    def read(self) -> tuple[float, float, float]:
        return self.convert(self.read_raw())


def _scaled(device: Path, channel: str, axis: str) -> float:
    raw = float(_read_text(device / f"in_{channel}_{axis}_raw"))
    scale = _optional(device, f"in_{channel}_{axis}_scale", f"in_{channel}_scale", 1.0)
    offset = _optional(device, f"in_{channel}_{axis}_offset", f"in_{channel}_offset", 0.0)
    return (raw + offset) * scale


def _optional(device: Path, specific: str, shared: str, default: float) -> float:
    for name in (specific, shared):
        path = device / name
        if path.exists():
            return float(_read_text(path))
    return default


def _read_text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise DeviceIOError(f"cannot read {path}: {exc.strerror}") from exc
