"""``gnss source``: NMEA 0183 from a serial GNSS receiver into ``gnss.*`` (Appendix A.1).

Settings (``[sources.gnss]``): ``port`` (default ``/dev/ttyS1``; any pyserial URL works,
e.g. ``loop://``), ``baudrate`` (9600), ``uere_m`` (2.5, for the HDOP-based accuracy
estimate), ``speed_sigma_mps`` (0.1, for the derived heading accuracy),
``require_checksum`` (true), ``silence_s`` (3: no valid sentence for this long means the
receiver is gone). The simulated backend writes the vehicle model's NMEA into a
pty and reads it back through the same code.
"""

from __future__ import annotations

import time
from typing import ClassVar

import serial
from pydantic import BaseModel, ConfigDict, Field, field_validator

from flowengine.errors import DeviceIOError
from nodes.sources.base import SourceNode, in_thread
from nodes.sources.gnss.nmea import DEFAULT_SPEED_SIGMA_MPS, DEFAULT_UERE_M, KEYS, NmeaDecoder
from nodes.sources.sim.gnss_device import SimulatedReceiver
from nodes.sources.sim.vehicle import shared_vehicle

BAUD_RATES = (4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800)
READ_TIMEOUT = 0.2
FIX_NAMES = {0: "no fix", 1: "DR", 2: "2D", 3: "3D", 4: "GNSS+DR", 5: "time"}


class GnssSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    port: str = Field(default="/dev/ttyS1", min_length=1)
    baudrate: int = 9600
    uere_m: float = Field(default=DEFAULT_UERE_M, gt=0, le=100)
    speed_sigma_mps: float = Field(
        default=DEFAULT_SPEED_SIGMA_MPS, gt=0, le=10, description="speed accuracy per unit of HDOP (heading accuracy)"
    )
    require_checksum: bool = True
    silence_s: float = Field(default=3.0, gt=0, le=600)

    @field_validator("baudrate")
    @classmethod
    def _baud(cls, value: int) -> int:
        if value not in BAUD_RATES:
            raise ValueError(f"must be one of {', '.join(map(str, BAUD_RATES))}")
        return value


class GnssSourceNode(SourceNode):
    """Reads NMEA lines in a worker thread, decodes them on the loop, publishes every ``interval``."""

    prefixes: ClassVar[tuple[str, ...]] = ("gnss",)
    keys: ClassVar[tuple[str, ...]] = KEYS
    Settings: ClassVar[type[BaseModel] | None] = GnssSettings

    async def on_start(self) -> None:
        hw = self.checked_settings()
        self.decoder = NmeaDecoder(
            uere_m=hw.uere_m, require_checksum=hw.require_checksum, speed_sigma_mps=hw.speed_sigma_mps
        )
        self.receiver: SimulatedReceiver | None = None
        self._reported_rejects = 0
        await super().on_start()

    async def run_backend(self) -> None:
        if self.simulated:
            period = min(1.0, self.config.interval)  # type: ignore[attr-defined]
            self.receiver = SimulatedReceiver(shared_vehicle(self.runtime), period).start()
        try:
            await self._read(self.receiver.port if self.receiver else self.hw.port)
        finally:
            if self.receiver is not None:
                await in_thread(self.receiver.stop)

    async def _read(self, url: str) -> None:
        port = await in_thread(_open, url, self.hw.baudrate)
        self.decoder.latest.clear()
        try:
            await self._pump(port)
        finally:
            await in_thread(port.close)

    async def _pump(self, port: serial.SerialBase) -> None:
        interval = self.config.interval  # type: ignore[attr-defined]
        last_valid = next_publish = time.monotonic()
        while True:
            lines = await in_thread(_read_lines, port)
            now = time.monotonic()
            if sum(self.decoder.feed(line) is not None for line in lines):
                last_valid = now
            if now - last_valid > self.hw.silence_s:
                raise DeviceIOError(f"no valid NMEA on {port.port} for {self.hw.silence_s:g}s")
            self._report_rejects()
            if now >= next_publish and self.decoder.latest:
                self.publish(self.decoder.values())
                self._show()
                next_publish = max(next_publish + interval, now)

    def _report_rejects(self) -> None:
        stats = self.decoder.stats
        # logged at the first rejected line, then each time the count doubles
        if stats.rejected > max(0, 2 * self._reported_rejects - 1):
            self.log.warning("skipped %d bad-checksum and %d garbage line(s) so far", stats.bad_checksum, stats.garbage)
            self._reported_rejects = stats.rejected

    def _show(self) -> None:
        values, stats = self.decoder.values(), self.decoder.stats
        text = f"{FIX_NAMES.get(values['gnss.fix'], '?')}, {values['gnss.num_sv'] or 0} sv"
        if stats.rejected:
            text += f", {stats.rejected} bad line(s)"
        self.status("green" if values["gnss.fix"] in (2, 3, 4) else "yellow", "dot", text)

    async def on_close(self) -> None:
        if getattr(self, "receiver", None) is not None:
            await in_thread(self.receiver.stop)  # type: ignore[union-attr]


def _open(url: str, baudrate: int) -> serial.SerialBase:
    try:
        return serial.serial_for_url(url, baudrate=baudrate, timeout=READ_TIMEOUT)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceIOError(f"cannot open GNSS port {url}: {exc}") from exc


def _read_lines(port: serial.SerialBase) -> list[bytes]:
    """Whatever complete lines arrive within one read timeout (blocking; runs in a thread)."""
    try:
        lines = [port.readline()]
        while port.in_waiting:
            lines.append(port.readline())
    except (serial.SerialException, OSError) as exc:
        raise DeviceIOError(f"GNSS port {port.port} failed: {exc}") from exc
    return [line for line in lines if line]
