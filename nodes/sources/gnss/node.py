"""``gnss source``: NMEA 0183 from a serial GNSS receiver into ``gnss.*`` (Appendix A.1).

Settings (``[sources.gnss]``): ``port`` (default ``/dev/ttyS1``; any pyserial URL works,
e.g. ``loop://``), ``baudrate`` (9600), ``uere_m`` (2.5, for the HDOP-based accuracy
estimate), ``speed_sigma_mps`` (0.1, for the derived heading accuracy),
``require_checksum`` (true), ``silence_s`` (3: no valid sentence for this long means the
receiver is gone). The simulated backend writes the vehicle model's NMEA into a
pty and reads it back through the same code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from flowengine.errors import DeviceIOError
from nodes.sources.base import SourceNode
from nodes.sources.device import Stream
from nodes.sources.gnss.nmea import DEFAULT_SPEED_SIGMA_MPS, DEFAULT_UERE_M, KEYS, NmeaDecoder

if TYPE_CHECKING:
    import serial

    from nodes.sources.sim.gnss_device import SimulatedReceiver

BAUD_RATES = (4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800)
#: Longest blocking read on the port: a receiver sends every second, so this only bounds how
#: late silence is noticed (with ``silence_s``).
READ_TIMEOUT = 1.0
MAX_LINE = 4096
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
    """Streams NMEA lines from the receiver on its device thread, decodes them on the loop, publishes every ``interval``."""

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
        self._run: object = None
        await super().on_start()

    async def run_backend(self) -> None:
        if self.simulated:
            self.receiver = await self._simulated_receiver()
        try:
            await self._read(self.receiver.port if self.receiver else self.hw.port)
        finally:
            if self.receiver is not None:
                self.device.submit(self.receiver.stop)

    async def _simulated_receiver(self) -> SimulatedReceiver:
        """The receiver on a pty, writing one epoch a second (the simulator is imported only here)."""
        vehicle = await self.simulator("nodes.sources.sim.gnss_device")
        from nodes.sources.sim.gnss_device import SimulatedReceiver

        period = min(1.0, self.config.interval)  # type: ignore[attr-defined]
        return await self.device.call(lambda: SimulatedReceiver(vehicle, period).start())

    async def _read(self, url: str) -> None:
        self.decoder.latest.clear()
        run = self._run = object()
        now = self.clock.now()
        self._last_valid, self._next_publish = now, now
        await self.device.stream(_pump, url, self.hw.baudrate, lambda lines: self._on_lines(run, lines))

    def _on_lines(self, run: object, lines: list[bytes]) -> None:
        """On the loop: decode what the port delivered, notice silence, publish when due."""
        if run is not self._run or self.closed:
            return
        now = self.clock.now()
        if sum(self.decoder.feed(line) is not None for line in lines):
            self._last_valid = now
        if now - self._last_valid > self.hw.silence_s:
            self.fail(DeviceIOError(f"no valid NMEA for {self.hw.silence_s:g}s"))
            return
        self._report_rejects()
        if now >= self._next_publish and self.decoder.latest:
            self.publish(self.decoder.values())
            self._show()
            self._next_publish = max(self._next_publish + self.config.interval, now)  # type: ignore[attr-defined]

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


def _pump(stream: Stream, url: str, baudrate: int, deliver: Any) -> None:
    """On the device thread: open the port, hand over complete lines until stopped or the port fails.

    Reads whatever arrived (not byte by byte); an empty hand-over after a silent
    ``READ_TIMEOUT`` lets the loop notice a receiver that stopped talking.
    """
    port = _open(url, baudrate)
    stream.on_stop(port.cancel_read)
    pending = b""
    try:
        while not stream.stopping:
            pending += _read_some(port)
            *lines, pending = pending.split(b"\n")
            pending = pending[-MAX_LINE:]
            stream.deliver(deliver, [line + b"\n" for line in lines if line.strip()])
    finally:
        port.close()


def _open(url: str, baudrate: int) -> serial.SerialBase:
    import serial  # pyserial only when a port is opened

    try:
        return serial.serial_for_url(url, baudrate=baudrate, timeout=READ_TIMEOUT)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceIOError(f"cannot open GNSS port {url}: {exc}") from exc


def _read_some(port: serial.SerialBase) -> bytes:
    """What the port has now, or the first bytes to arrive within the read timeout (blocking)."""
    import serial

    try:
        return bytes(port.read(max(1, port.in_waiting)))
    except (serial.SerialException, OSError) as exc:
        raise DeviceIOError(f"GNSS port {port.port} failed: {exc}") from exc
