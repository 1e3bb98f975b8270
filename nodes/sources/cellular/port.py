"""The AT command channel to a modem over a serial port (pyserial; a pty in simulation).

Blocking by design: the cellular source runs it in a worker thread. A command
that the modem answers with ``ERROR`` raises :class:`ModemCommandError` (that
value is unknown, the modem is fine); silence, garbage without a final result or
a vanished port raise :class:`~flowengine.errors.DeviceIOError` (the modem is gone).
"""

from __future__ import annotations

import contextlib
import time

import serial

from flowengine.errors import DeviceIOError, FlowError

_FINAL_ERRORS = ("ERROR", "+CME ERROR", "+CMS ERROR", "NO CARRIER")


class ModemCommandError(FlowError):
    """The modem answered a command with ERROR / +CME ERROR (command unsupported, no SIM...)."""


class ATPort:
    """One open modem port: send a command, collect its information lines until the final result."""

    def __init__(self, url: str, baudrate: int = 115200, timeout: float = 2.0) -> None:
        self.timeout = timeout
        try:
            self.serial = serial.serial_for_url(url, baudrate=baudrate, timeout=0.05, write_timeout=timeout)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceIOError(f"cannot open modem port {url}: {exc}") from exc
        self._pending = b""

    def command(self, cmd: str, timeout: float | None = None) -> list[str]:
        """Send ``cmd``; return its information lines (echo removed) or raise."""
        try:
            self.serial.reset_input_buffer()
            self._pending = b""
            self.serial.write(cmd.encode("ascii") + b"\r")
            return self._collect(cmd, time.monotonic() + (timeout or self.timeout))
        except DeviceIOError:
            raise
        except (serial.SerialException, OSError) as exc:
            raise DeviceIOError(f"modem port failed during {cmd}: {exc}") from exc

    def _collect(self, cmd: str, deadline: float) -> list[str]:
        info: list[str] = []
        while (left := deadline - time.monotonic()) > 0:
            for line in self._lines(left):
                if line == "OK":
                    return info
                if line.startswith(_FINAL_ERRORS):
                    raise ModemCommandError(f"{cmd}: {line}")
                if line.upper() != cmd.upper():
                    info.append(line)
        raise DeviceIOError(f"modem did not answer {cmd} within {self.timeout:g}s")

    def _lines(self, wait: float) -> list[str]:
        """Complete lines that arrived; blocks up to ``wait`` for the first byte (no polling)."""
        self.serial.timeout = wait
        self._pending += self.serial.read(max(1, self.serial.in_waiting))
        *complete, self._pending = self._pending.replace(b"\r", b"\n").split(b"\n")
        return [text for raw in complete if (text := raw.decode("ascii", "replace").strip())]

    def close(self) -> None:
        """Idempotent: closing twice (or a port that already vanished) is harmless."""
        with contextlib.suppress(serial.SerialException, OSError):
            self.serial.close()
