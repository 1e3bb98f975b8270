"""Minimum retry interval per request topic (reference 2.3; decision 2).

Counted from the last *accepted* request on a topic: a request is admitted
tentatively when it arrives (so a second one while it is in flight is busy) and
released again when its response is an error.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Ticket:
    topic: str
    at: float
    previous: float | None


class RetryLimiter:
    """Admits at most one accepted request per topic per interval."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._last: dict[str, float] = {}
        self._tickets: dict[int, _Ticket] = {}
        self._ids = itertools.count(1)

    def admit(self, topic: str, interval: float) -> int | None:
        """A ticket when the request may proceed; None when it is inside the interval (device_busy)."""
        now = self.clock()
        last = self._last.get(topic)
        if last is not None and now - last < interval:
            return None
        ticket = next(self._ids)
        self._tickets[ticket] = _Ticket(topic, now, last)
        self._last[topic] = now
        return ticket

    def settle(self, ticket: int, accepted: bool) -> None:
        """Record the outcome: a rejected request does not count against the interval."""
        entry = self._tickets.pop(ticket, None)
        if entry is None or accepted or self._last.get(entry.topic) != entry.at:
            return
        if entry.previous is None:
            del self._last[entry.topic]
        else:
            self._last[entry.topic] = entry.previous

    @property
    def open_tickets(self) -> int:
        return len(self._tickets)
