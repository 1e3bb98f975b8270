"""Client-side spacing of requests per topic, so the device's retry limit is never hit by our own requests.

The device refuses a request on a topic within the minimum retry interval of
the last one it *accepted* there (``device_busy``). It admits a request before
it answers, so counting the interval from the moment the answer arrives is
always late enough. One request per topic is in flight at a time (a second one
would be refused anyway); the others wait their turn in order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass
class Turn:
    """One request's turn on a topic; set ``counts`` when the device may have accepted it."""

    counts: bool = False


class Spacing:
    """Per-topic turns: at most one request in flight per topic, each after the previous one's interval."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._free_at: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def turn(self, topic: str, interval: float) -> AsyncIterator[Turn]:
        """Wait until ``topic`` is free, then hold it; a turn that ``counts`` keeps it for ``interval`` more."""
        lock = self._locks.setdefault(topic, asyncio.Lock())
        self._users[topic] = self._users.get(topic, 0) + 1
        try:
            async with lock:
                turn = Turn()
                await asyncio.sleep(self.wait_for(topic))
                try:
                    yield turn
                finally:
                    if turn.counts:
                        self._free_at[topic] = self._clock() + interval
                        asyncio.get_running_loop().call_later(interval + 0.05, self._forget, topic)
        finally:
            self._users[topic] -= 1
            self._forget(topic)

    def wait_for(self, topic: str) -> float:
        """Seconds until ``topic`` is free (0 when it is)."""
        return max(0.0, self._free_at.get(topic, 0.0) - self._clock())

    def _forget(self, topic: str) -> None:
        """Drop an idle topic's entries, so requests to many devices do not pile them up."""
        if self._users.get(topic, 0) == 0 and self.wait_for(topic) == 0:
            self._free_at.pop(topic, None)
            self._locks.pop(topic, None)
            self._users.pop(topic, None)

    def __len__(self) -> int:
        """Topics with a request in flight, waiting, or inside their interval."""
        return len(self._locks)
