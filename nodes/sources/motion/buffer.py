"""The Linux IIO buffered interface: the sensor samples at its own rate into a FIFO we read in blocks.

Instead of reading six sysfs files per sample, the reader enables the scan elements
(``scan_elements/in_<channel>_<axis>_en`` and the timestamp), picks the lowest
``sampling_frequency`` the device offers at or above the rate needed, sets the
watermark to about one second of samples and reads ``/dev/iio:deviceN``: one wake-up
per block however fast the sensor samples. Every sample carries the kernel's
timestamp, so yaw integrates the gyroscope at its full rate.

Scan layout: enabled elements in index order, each aligned to its storage size
(``le:s16/16>>0`` is little-endian, signed, 16 bits stored in 16, no shift).
Pure parsing here; file access in :class:`IioBuffer`, which the motion reader runs on
its device thread.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from flowengine.errors import DeviceIOError
from nodes.sources.motion.iio import AXES

#: Seconds of samples per block (the watermark): one wake-up per block.
BLOCK_S = 1.0
_TYPE = re.compile(r"^(be|le):([su])(\d+)/(\d+)(?:X(\d+))?>>(\d+)$")

RawSample = tuple[float, tuple[int, int, int]]  # (epoch seconds, raw x, y, z)


@dataclass(frozen=True)
class Element:
    """One scan element: where it sits in a scan and how to turn its bytes into a number."""

    name: str
    index: int
    big_endian: bool
    signed: bool
    bits: int
    storage_bytes: int
    shift: int

    def decode(self, scan: bytes, offset: int) -> int:
        raw = int.from_bytes(scan[offset : offset + self.storage_bytes], "big" if self.big_endian else "little")
        value = (raw >> self.shift) & ((1 << self.bits) - 1)
        if self.signed and value & (1 << (self.bits - 1)):
            value -= 1 << self.bits
        return value


def parse_type(name: str, index: int, text: str) -> Element:
    """An element from its ``_type`` file (``le:s16/16>>0``)."""
    match = _TYPE.match(text.strip())
    if match is None:
        raise DeviceIOError(f"unsupported IIO scan type {text.strip()!r} for {name}")
    endian, sign, bits, storage, repeat, shift = match.groups()
    if repeat not in (None, "1"):
        raise DeviceIOError(f"repeated IIO scan elements are not supported ({name})")
    return Element(name, index, endian == "be", sign == "s", int(bits), int(storage) // 8, int(shift))


def layout(elements: list[Element]) -> tuple[list[int], int]:
    """Byte offsets of the elements (index order, each aligned to its size) and the scan size."""
    offsets, position, largest = [], 0, 1
    for element in elements:
        size = element.storage_bytes
        position = (position + size - 1) // size * size
        offsets.append(position)
        position += size
        largest = max(largest, size)
    return offsets, (position + largest - 1) // largest * largest


def pick_frequency(available: list[float], needed: float) -> float:
    """The lowest offered rate at or above ``needed`` (the highest when none is enough)."""
    enough = [f for f in sorted(available) if f >= needed]
    return enough[0] if enough else max(available, default=needed)


class IioBuffer:
    """One device's buffered capture: :meth:`enable`, read blocks, :meth:`disable` (idempotent)."""

    def __init__(self, device: Path, dev_node: Path, channel: str) -> None:
        self.device, self.dev_node, self.channel = device, dev_node, channel
        self.fd: int | None = None
        self.rate = 0.0
        self._pending = b""
        self._started = 0.0

    @staticmethod
    def supported(device: Path, dev_node: Path, channel: str) -> bool:
        """True when the device has a buffer, the scan elements we need, and its device node."""
        scan = device / "scan_elements"
        return (
            (device / "buffer" / "enable").exists()
            and all((scan / f"in_{channel}_{axis}_en").exists() for axis in AXES)
            and dev_node.exists()
        )

    def enable(self, needed: float) -> float:
        """Start sampling at the lowest offered rate >= ``needed``; returns the rate."""
        self.disable()
        self.rate = pick_frequency(self._offered(), needed)
        if (self.device / "sampling_frequency").exists():
            _write(self.device / "sampling_frequency", _number(self.rate))
        self.elements = self._enable_elements()
        self.offsets, self.scan_size = layout(self.elements)
        watermark = max(1, math.ceil(self.rate * BLOCK_S))
        _write(self.device / "buffer" / "length", str(4 * watermark))
        with contextlib.suppress(DeviceIOError):  # older kernels have no watermark: blocks come as they come
            _write(self.device / "buffer" / "watermark", str(watermark))
        self._started = time.time()
        self._epoch_offset = 0.0 if self._clock() == "realtime" else time.time() - time.monotonic()
        _write(self.device / "buffer" / "enable", "1")
        try:
            self.fd = os.open(self.dev_node, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            self.disable()
            raise DeviceIOError(f"cannot open {self.dev_node}: {exc.strerror}") from exc
        return self.rate

    def read(self) -> list[RawSample]:
        """Every whole sample available now (non-blocking; select on :attr:`fd` first)."""
        assert self.fd is not None
        try:
            data = os.read(self.fd, 64 * 1024)
        except BlockingIOError:
            return []
        except OSError as exc:
            raise DeviceIOError(f"{self.dev_node} failed: {exc.strerror}") from exc
        if not data:
            raise DeviceIOError(f"{self.dev_node}: the device went away")
        data = self._pending + data
        whole = len(data) // self.scan_size * self.scan_size
        self._pending = data[whole:]
        samples = [self._decode(data[i : i + self.scan_size]) for i in range(0, whole, self.scan_size)]
        return [s for s in samples if s[0] >= self._started - BLOCK_S]  # left over from an earlier capture

    def disable(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None
        with contextlib.suppress(DeviceIOError):
            if (self.device / "buffer" / "enable").exists():
                _write(self.device / "buffer" / "enable", "0")
        self._pending = b""

    def _decode(self, scan: bytes) -> RawSample:
        values = [e.decode(scan, o) for e, o in zip(self.elements, self.offsets, strict=True)]
        x, y, z, stamp = values
        return stamp / 1e9 + self._epoch_offset, (x, y, z)

    def _enable_elements(self) -> list[Element]:
        scan = self.device / "scan_elements"
        wanted = [f"in_{self.channel}_{axis}" for axis in AXES] + ["in_timestamp"]
        for entry in sorted(scan.glob("*_en")):
            name = entry.name[: -len("_en")]
            _write(entry, "1" if name in wanted else "0")
        elements = [
            parse_type(name, int(_read(scan / f"{name}_index")), _read(scan / f"{name}_type")) for name in wanted
        ]
        if [e.name for e in sorted(elements, key=lambda e: e.index)] != wanted:
            raise DeviceIOError(f"{self.device.name}: unexpected scan element order")
        return elements

    def _offered(self) -> list[float]:
        path = self.device / "sampling_frequency_available"
        if not path.exists():
            return []
        return [float(f) for f in _read(path).split()]

    def _clock(self) -> str:
        path = self.device / "current_timestamp_clock"
        return _read(path) if path.exists() else "realtime"


def _number(value: float) -> str:
    return f"{value:g}"


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise DeviceIOError(f"cannot read {path}: {exc.strerror}") from exc


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text + "\n")
    except OSError as exc:
        raise DeviceIOError(f"cannot write {path}: {exc.strerror}") from exc
