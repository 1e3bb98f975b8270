"""A simulated 5G modem (Quectel RM5xx style) answering AT commands on a pseudo-terminal.

Its serving cell and radio readings come from the shared vehicle model, so they
change as the simulated vehicle drives: 5G standalone (registered in the 5G system,
``+C5GREG``, access technology 11, an ``NR5G-SA`` serving cell), 5G non-standalone
(EN-DC: an LTE anchor with an ``NR5G-NSA`` leg, access technology 13) or LTE alone
where the signal is weak.

The cellular source talks to it exactly as to a real modem: pyserial opens the
pty (through a stable symlink, as udev names real modems), writes commands and
parses the answers with the same codecs. Tests use :meth:`hangup`,
:meth:`restore`, :attr:`silent` and :meth:`garbage` to inject faults.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import threading
import tty
from collections.abc import Callable
from pathlib import Path

from nodes.sources.sim.vehicle import VehicleState


def csq_of(rssi_dbm: float) -> int:
    """The ``+CSQ`` level (0..31) of an RSSI in dBm."""
    return max(0, min(31, round((rssi_dbm + 113) / 2)))


class SimModem:
    """Serves AT commands on a pty in a thread of its own; the port path is :attr:`link`."""

    IMEI, IMSI, ICCID, NUMBER = "867698041234565", "262011234567890", "89490200001234567890", "+491701234567"

    MCC, MNC, OPERATOR = 262, 1, "Telekom.de"

    def __init__(self, link: Path, radio: Callable[[], VehicleState]) -> None:
        self.link = link
        self.radio = radio
        self.rng = random.Random(link.name)
        self.silent = False
        self.echo = True
        self._fds: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe()  # the serving thread blocks in select until a command or this

    def start(self) -> SimModem:
        self._open()
        self._thread = threading.Thread(target=self._serve, name=f"sim-modem:{self.link.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(2)
        self.hangup()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def hangup(self) -> None:
        """The modem vanishes: both ends of the pty close (the driver sees I/O errors)."""
        with self._lock:
            fds, self._fds = self._fds, None
        self._wake()
        for fd in fds or ():
            with contextlib.suppress(OSError):
                os.close(fd)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def restore(self) -> None:
        """The modem comes back (on a new pty behind the same :attr:`link`), echo on as after power-up."""
        self.hangup()
        self.echo = True
        self._open()

    def garbage(self, size: int = 64) -> None:
        """Line noise: random bytes towards the driver."""
        with self._lock:
            if self._fds:
                os.write(self._fds[0], bytes(self.rng.randrange(256) for _ in range(size)))

    def _open(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        temp = self.link.with_name(self.link.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        temp.symlink_to(os.ttyname(slave))
        os.replace(temp, self.link)
        with self._lock:
            self._fds = (master, slave)
        self._wake()

    def _serve(self) -> None:
        """Block until a command arrives (or a wake-up: stop, hang-up, restore); no polling."""
        buffer = b""
        while not self._stop.is_set():
            master = self._fds[0] if self._fds else None
            try:
                ready, _, _ = select.select([self._wake_r] + ([master] if master is not None else []), [], [])
                if self._wake_r in ready:
                    os.read(self._wake_r, 64)
                    buffer = b""
                data = os.read(master, 1024) if master is not None and master in ready else b""
            except OSError:
                continue
            buffer += data
            while b"\r" in buffer:
                line, buffer = buffer.split(b"\r", 1)
                self._answer(line.decode("ascii", "replace").strip())

    def _answer(self, cmd: str) -> None:
        if not cmd or self.silent:
            return
        out = cmd + "\r" if self.echo else ""
        reply = self.respond(cmd)
        out += "".join(f"\r\n{line}\r\n" for line in reply or [])
        out += "\r\nOK\r\n" if reply is not None else "\r\nERROR\r\n"
        with self._lock, contextlib.suppress(OSError):
            if self._fds:
                os.write(self._fds[0], out.encode("ascii"))

    def respond(self, cmd: str) -> list[str] | None:
        """The information lines for ``cmd`` (None: the modem answers ERROR)."""
        upper = cmd.upper()
        if upper in ("ATE0", "ATE1"):
            self.echo = upper == "ATE1"
            return []
        if upper in ("AT", "AT+CMEE=1", "AT+CREG=2", "AT+CEREG=2", "AT+C5GREG=2"):
            return []
        return self._queries().get(upper)

    def _queries(self) -> dict[str, list[str]]:
        r = self.radio()
        act = {"SA": 11, "NSA": 13}.get(r.radio, 7)
        eps = f'2,1,"{r.lac:04X}","{r.cell_id:08X}",7' if r.radio != "SA" else "2,0"
        fivegs = f'2,1,"{r.lac:06X}","{r.cell_id:09X}",11' if r.radio == "SA" else "2,0"
        return {
            "AT+CSQ": [f"+CSQ: {csq_of(r.rssi_dbm)},99"],
            "AT+CREG?": [f"+CREG: {eps}"],
            "AT+CEREG?": [f"+CEREG: {eps}"],
            "AT+C5GREG?": [f"+C5GREG: {fivegs}"],
            "AT+COPS?": [f'+COPS: 0,0,"{self.OPERATOR}",{act}'],
            "AT+CGSN": [self.IMEI],
            "AT+CIMI": [self.IMSI],
            "AT+QCCID": [f"+QCCID: {self.ICCID}"],
            "AT+CNUM": [f'+CNUM: "","{self.NUMBER}",145'],
            'AT+QENG="SERVINGCELL"': self._serving_cell(r),
            "AT+QDSIM?": ["+QDSIM: 0"],
        }

    def _serving_cell(self, r: VehicleState) -> list[str]:
        """``+QENG: "servingcell"`` as Quectel 5G modems answer it: one line, or three on EN-DC."""
        plmn = f"{self.MCC},{self.MNC:02d}"
        signal = f"{round(r.rsrp_dbm)},{round(r.rsrq_db)}"
        if r.radio == "SA":
            return [
                f'+QENG: "servingcell","NOCONN","NR5G-SA","TDD",{plmn},{r.cell_id:X},{r.cell_id % 1008},'
                f"{r.lac:X},627264,78,12,{signal},{round(r.sinr_db)},1,-"
            ]
        lte = (
            f'"LTE","FDD",{plmn},{r.cell_id:X},{r.cell_id % 504},6300,20,5,5,{r.lac:X},{signal},'
            f"{round(r.rssi_dbm)},{round(r.sinr_db)}"
        )
        if r.radio == "LTE":
            return [f'+QENG: "servingcell","NOCONN",{lte},-']
        nr = f'"NR5G-NSA",{plmn},{r.cell_id % 1008},{round(r.rsrp_dbm) + 4},{round(r.sinr_db) - 2},-11,627264,78,12,1'
        return ['+QENG: "servingcell","NOCONN"', f"+QENG: {lte},10,20,-", f"+QENG: {nr}"]
