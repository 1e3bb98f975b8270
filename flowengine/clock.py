"""Time as the runtime sees it: one clock object that nodes ask for the time, timers and sleeps.

Nodes never call ``asyncio.sleep``, ``loop.call_later`` or ``time.time`` for their
behaviour; they ask ``self.clock``. In production that is :class:`LoopClock` (the
event loop's monotonic time and the wall clock); tests hand the runtime a
:class:`FakeClock` and move time by hand, the way Node-RED's node tests use fake
timers, so a test asserts the delay a node applied instead of waiting for it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol

#: Turns of the event loop a fake clock gives the consequences of one timer before it also waits in real time.
SETTLE_SPINS = 200
#: Real seconds a fake clock waits at most for work in threads or processes a timer started (a state write,
#: a worker evaluating user code) before it moves on.
SETTLE_REAL_SECONDS = 10.0
#: Consecutive idle turns after which the consequences count as settled.
SETTLE_QUIET_SPINS = 3
#: Real seconds between looks at offloaded work.
SETTLE_OFFLOADED_POLL = 0.001


class Timer(Protocol):
    """A scheduled callback that can be cancelled (an ``asyncio.TimerHandle`` is one)."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Where nodes get time from."""

    def now(self) -> float:
        """Monotonic seconds: for intervals and deadlines."""
        ...

    def time(self) -> float:
        """Wall-clock seconds since the epoch: for timestamps in messages."""
        ...

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        """Call ``callback`` on the event loop after ``delay`` seconds."""
        ...

    async def sleep(self, delay: float) -> None:
        """Wait ``delay`` seconds."""
        ...


class LoopClock:
    """The real clock: the running event loop's monotonic time and ``time.time``."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def time(self) -> float:
        return time.time()

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(max(0.0, delay))


class FakeTimer:
    """A timer of a :class:`FakeClock`."""

    __slots__ = ("callback", "cancelled", "seq", "when")

    def __init__(self, when: float, seq: int, callback: Callable[[], object]) -> None:
        self.when = when
        self.seq = seq
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: FakeTimer) -> bool:
        return (self.when, self.seq) < (other.when, other.seq)


class FakeClock:
    """A clock that stands still until a test moves it (all methods on the event loop thread).

    :meth:`advance` fires every timer due in the window in time order and lets the
    event loop run what each one caused before the next fires, so a chain of
    nodes sees time pass exactly as it would. :meth:`stall` models a blocked event
    loop: time jumps and every overdue timer fires once, late. ``idle`` (set by the
    runtime's owner) tells when what a timer caused has been handled; ``offloaded``
    tells when some of it is being done by another process, which takes real time.
    """

    def __init__(self, wall_start: float = 1_700_000_000.0) -> None:
        self._now = 0.0
        self._wall_start = wall_start
        self._timers: list[FakeTimer] = []
        self._seq = itertools.count()
        self.idle: Callable[[], bool] = lambda: True
        self.offloaded: Callable[[], bool] = lambda: False

    def now(self) -> float:
        return self._now

    def time(self) -> float:
        return self._wall_start + self._now

    def call_later(self, delay: float, callback: Callable[[], object]) -> FakeTimer:
        timer = FakeTimer(self._now + max(0.0, delay), next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        return timer

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self.call_later(delay, wake)
        try:
            await future
        finally:
            timer.cancel()

    @property
    def pending(self) -> int:
        """Timers scheduled and not cancelled."""
        return sum(not t.cancelled for t in self._timers)

    def next_due(self) -> float | None:
        """When the earliest pending timer fires, or None."""
        self._drop_cancelled()
        return self._timers[0].when if self._timers else None

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing every timer due on the way, in order."""
        target = self._now + seconds
        await self.settle()
        while (due := self.next_due()) is not None and due <= target:
            self._now = max(self._now, due)
            self._fire(heapq.heappop(self._timers))
            await self.settle()
        self._now = max(self._now, target)
        await self.settle()

    async def stall(self, seconds: float) -> None:
        """Jump ``seconds`` as a blocked event loop would, then fire each overdue timer once."""
        self._now += seconds
        while (due := self.next_due()) is not None and due <= self._now:
            self._fire(heapq.heappop(self._timers))
            await self.settle()

    async def settle(self) -> None:
        """Let the event loop run until ``idle`` holds for a few turns.

        Work handed to threads or processes (which fake time cannot speed up) is waited
        for in real time, up to :data:`SETTLE_REAL_SECONDS`; while a node says its work is
        ``offloaded`` (a JavaScript worker) the loop is not idle.
        """
        quiet, spins = 0, 0
        deadline = time.monotonic() + SETTLE_REAL_SECONDS
        while quiet < SETTLE_QUIET_SPINS and time.monotonic() < deadline:
            spins += 1
            if self.offloaded():
                quiet = 0
                await asyncio.sleep(SETTLE_OFFLOADED_POLL)
                continue
            await asyncio.sleep(0 if spins < SETTLE_SPINS else 0.001)
            quiet = quiet + 1 if self.idle() else 0

    def _fire(self, timer: FakeTimer) -> None:
        if not timer.cancelled:
            timer.cancelled = True
            timer.callback()

    def _drop_cancelled(self) -> None:
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
