"""One polling session with a modem: setup commands, then a round of queries per reading.

Modems differ in which command answers a question (``AT+QCCID`` / ``AT+CCID`` /
``AT+ICCID``; ``AT+QENG="servingcell"`` / ``AT+CESQ``): each query lists
candidates and the session remembers the first one the modem accepts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from nodes.sources.cellular.port import ATPort, ModemCommandError

#: Sent once per connection; modems that refuse one of them still work.
SETUP = ("ATE0", "AT+CMEE=1", "AT+CREG=2", "AT+CEREG=2", "AT+C5GREG=2")


class ModemSession:
    """Blocking; runs in a worker thread of the cellular source."""

    def __init__(self, port: ATPort, queries: dict[str, Sequence[str]]) -> None:
        self.port = port
        self.queries = queries
        self._accepted: dict[str, str] = {}
        self.imei: list[str] | None = None

    def setup(self) -> None:
        """Echo off, verbose errors, location in registration answers; read the IMEI once."""
        for cmd in SETUP:
            with contextlib.suppress(ModemCommandError):
                self.port.command(cmd)
        self.imei = self.ask("imei", ("AT+CGSN",))

    def ask(self, name: str, candidates: Sequence[str]) -> list[str] | None:
        """Lines of the first candidate the modem accepts, or None when it refuses them all."""
        known = self._accepted.get(name)
        for cmd in ([known] if known else []) + [c for c in candidates if c != known]:
            try:
                lines = self.port.command(cmd)
            except ModemCommandError:
                continue
            self._accepted[name] = cmd
            return lines
        self._accepted.pop(name, None)
        return None

    def poll(self) -> dict[str, list[str] | None]:
        """One round of every query (raises DeviceIOError when the modem stops answering)."""
        answers = {name: self.ask(name, cmds) for name, cmds in self.queries.items()}
        answers["imei"] = self.imei
        return answers
