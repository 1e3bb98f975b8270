"""Linux IIO sysfs reading: find accelerometer and gyroscope devices, read scaled channels.

A channel value is ``(in_<type>_<axis>_raw + offset) * scale`` with the per-axis scale or
offset file when present, else the shared one. IIO reports m/s² and rad/s; we convert to
g and deg/s. Blocking file reads: the node calls these from a worker thread.
"""

from __future__ import annotations

import math
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
