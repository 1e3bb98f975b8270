"""The one thread that owns a hardware device (python-can's ``Notifier`` pattern).

Every blocking call a source makes on its device (open a port, poll an ECU, read a
sysfs tree) runs on this thread, in order; results go back to the event loop with
``loop.call_soon_threadsafe``. Between calls the thread blocks on its job queue, so an
idle device costs no wake-up at all. A streaming device (a GNSS receiver, a buffered
IMU) runs one long call, a :class:`Stream`, that loops on a blocking read and hands each
result over with :meth:`Stream.deliver`; stopping it runs the wake-ups it registered
(``cancel_read`` of a serial port) so a blocked read returns at once.

Nothing here uses the loop's default executor: a device never waits behind another
device's reads or the state writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
Job = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any] | None"]
log = logging.getLogger("flowengine.sources")


class Stream:
    """One long call on a device thread that loops on blocking reads until it is stopped.

    The stream owns what it opened and closes it itself when it ends, so stopping a
    stream never waits for another call queued behind it.
    """

    def __init__(self, device: DeviceThread) -> None:
        self.device = device
        self._stop = threading.Event()
        self._wakes: list[Callable[[], None]] = []

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wait(self, seconds: float | None) -> bool:
        """Sleep ``seconds`` (None: until stopped) unless stopped first; True when stopping."""
        return self._stop.wait(seconds)

    def deliver(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` on the event loop."""
        self.device.deliver(callback, *args)

    def on_stop(self, wake: Callable[[], None]) -> None:
        """What unblocks a blocked read when the stream stops (e.g. a serial port's ``cancel_read``)."""
        self._wakes.append(wake)
        if self.stopping:
            wake()

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        for wake in list(self._wakes):
            with contextlib.suppress(Exception):
                wake()


class DeviceThread:
    """Runs a device's blocking calls on one thread of its own; :meth:`stop` is idempotent."""

    def __init__(self, name: str, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.name = name
        self._loop = loop or asyncio.get_running_loop()
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._stopping = False
        #: Calls queued or running (streams included), counted on the loop.
        self.pending = 0
        self._streams: set[Stream] = set()
        self._ended: asyncio.Future[None] = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the device thread and return its result (or raise its exception).

        Cancelling the awaiting task does not interrupt ``fn``; its result is dropped.
        """
        if self._stopping:
            raise RuntimeError(f"device thread {self.name} is stopped")
        future: asyncio.Future[T] = self._loop.create_future()
        self._jobs.put((fn, args, future))
        self.pending += 1
        try:
            return await future
        finally:
            self.pending -= 1

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)`` without waiting for it (closing a port in a ``finally``).

        A cleanup must not wait behind a read that hangs in the driver: it runs when the
        thread gets to it, before any later call, and its failure is only logged.
        """
        if not self._stopping:
            self._jobs.put((fn, args, None))

    async def stream(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(stream, *args)`` on the device thread; cancelling the caller stops the stream."""
        stream = Stream(self)
        self._streams.add(stream)
        try:
            return await self.call(fn, stream, *args)
        finally:
            stream.stop()
            self._streams.discard(stream)

    def deliver(self, callback: Callable[..., Any], *args: Any) -> None:
        """From the device thread: run ``callback(*args)`` on the event loop."""
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening any more
            self._loop.call_soon_threadsafe(callback, *args)

    def stop(self) -> None:
        """End the streams, then the thread after the calls already queued."""
        if self._stopping:
            return
        self._stopping = True
        for stream in list(self._streams):
            stream.stop()
        self._jobs.put(None)

    async def stopped(self, timeout: float = 3.0) -> bool:
        """Stop, then wait (on the loop, without blocking it) until the thread ended; False on timeout."""
        self.stop()
        try:
            await asyncio.wait_for(asyncio.shield(self._ended), timeout)
        except TimeoutError:
            return False
        return True

    def _run(self) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                fn, args, future = job
                try:
                    result = fn(*args)
                except BaseException as exc:
                    if future is None:
                        log.debug("%s: %s failed: %s", self.name, getattr(fn, "__qualname__", fn), exc)
                    else:
                        self.deliver(_settle, future, None, exc)
                else:
                    if future is not None:
                        self.deliver(_settle, future, result, None)
        finally:
            self.deliver(_settle, self._ended, None, None)


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.done():  # the caller was cancelled meanwhile
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
