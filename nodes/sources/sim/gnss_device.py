"""A simulated GNSS receiver: NMEA from the vehicle model written into a pseudo-terminal.

The GNSS node opens the pty's slave end with pyserial exactly as it opens a real UART,
so simulated and real data share the whole read and decode path. Like a UART with no
listener, bytes nobody reads are dropped rather than blocking the writer.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import tty

from nodes.sources.sim.nmea_out import epoch
from nodes.sources.sim.vehicle import Vehicle

log = logging.getLogger("flowengine.sim.gnss")


class SimulatedReceiver:
    """Writes one NMEA epoch every ``period`` seconds until :meth:`stop` (idempotent)."""

    def __init__(self, vehicle: Vehicle, period: float = 1.0) -> None:
        self.vehicle = vehicle
        self.period = period
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        flags = fcntl.fcntl(self.master, fcntl.F_GETFL)
        fcntl.fcntl(self.master, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        self.port = os.ttyname(self.slave)
        self.dropped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-gnss", daemon=True)

    def start(self) -> SimulatedReceiver:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.write("".join(epoch(self.vehicle.state())).encode("ascii"))
            self._stop.wait(self.period)

    def write(self, data: bytes) -> None:
        """Put raw bytes on the line (tests use it to inject garbage)."""
        try:
            os.write(self.master, data)
        except BlockingIOError:
            self.dropped += 1
        except OSError as exc:
            if not self._stop.is_set():
                log.debug("pty write failed: %s", exc)

    def stop(self) -> None:
        """Stop writing and close the pty: the reader sees the port vanish."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)
