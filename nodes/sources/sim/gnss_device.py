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
import tty

from nodes.sources.sim.nmea_out import epoch
from nodes.sources.sim.periodic import PeriodicDevice
from nodes.sources.sim.vehicle import Vehicle

log = logging.getLogger("flowengine.sim.gnss")


class SimulatedReceiver(PeriodicDevice):
    """Writes one NMEA epoch every ``period`` seconds until :meth:`stop` (idempotent)."""

    def __init__(self, vehicle: Vehicle, period: float = 1.0) -> None:
        super().__init__("sim-gnss", period)
        self.vehicle = vehicle
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        flags = fcntl.fcntl(self.master, fcntl.F_GETFL)
        fcntl.fcntl(self.master, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        self.port = os.ttyname(self.slave)
        self.dropped = 0

    def start(self) -> SimulatedReceiver:
        self.start_thread()
        return self

    def tick(self) -> None:
        self.write("".join(epoch(self.vehicle.state())).encode("ascii"))

    def write(self, data: bytes) -> None:
        """Put raw bytes on the line (tests use it to inject garbage)."""
        try:
            os.write(self.master, data)
        except BlockingIOError:
            self.dropped += 1
        except OSError as exc:
            if not self.stopping:
                log.debug("pty write failed: %s", exc)

    def release(self) -> None:
        """Close the pty: the reader sees the port vanish."""
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)
