"""A small pool of worker processes that run user code under limits the kernel enforces.

Why processes: asyncio cannot preempt synchronous code, and a sandbox's own checks run
between steps only; one C-level call (``str`` of a huge list, a deep comparison) can hold
the event loop, and every request of the agent with it, for as long as it likes. A worker
process can be killed at any moment instead:

- time: the parent waits at most ``seconds`` for the answer, then SIGKILLs the worker
  (``RLIMIT_CPU`` in the child is the backstop if the parent itself is stalled);
- memory: the child caps its address space (``RLIMIT_AS``), so a huge allocation fails
  there (``MemoryError``, or the process dies) and never touches the agent;
- size: what crosses in either direction is a bounded frame; a message too big to send
  is an error before anything is sent, an answer too big is refused by the child.

A worker whose task hit a limit, or was cancelled (node closed, agent stopping), is
killed at once and replaced lazily by the next task. Workers start lazily and are
reused; the pool lives in ``flowengine`` because it knows nothing about expressions:
any kind of user code runs in it by naming a ``"module:function"`` handler that takes
``(args, call)``, ``call(name, *args)`` reaching back to a callback of the parent.

Frames are length-prefixed pickles read with an unpickler that refuses every class:
only plain data (dict, list, tuple, set, str, bytes, numbers, bool, None) crosses, so a
worker running hostile code cannot make its parent build objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import pickle
import struct
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from flowengine.errors import ExpressionError, ExpressionLimitError

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">I")
_ROOT = str(Path(__file__).resolve().parents[1])


@dataclass(frozen=True)
class PoolLimits:
    """What a worker may use; ``seconds`` is per task and given with each task."""

    workers: int = 2
    memory_mb: int = 256
    max_bytes: int = 4 << 20  # a pickled message or result
    start_seconds: float = 20.0  # a worker's start-up (imports), not counted in a task's time


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"{module}.{name} may not cross to or from a worker")


def dump_frame(value: Any, max_bytes: int) -> bytes:
    """``value`` as one frame; ValueError when it is bigger than ``max_bytes``."""
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    if len(data) > max_bytes:
        raise ValueError(f"{len(data)} bytes, more than the {max_bytes} that may cross to or from a worker")
    return _HEADER.pack(len(data)) + data


def load_frame(stream: BinaryIO, max_bytes: int) -> Any:
    """The next frame from a blocking stream (the child's side); None at end of stream."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    if size > max_bytes:
        raise ValueError(f"frame of {size} bytes")
    return loads(stream.read(size))


def loads(data: bytes) -> Any:
    return _PlainUnpickler(io.BytesIO(data)).load()


def _plain_size(value: Any, budget: int) -> int:
    """Roughly the bytes ``value`` takes, walking at most until ``budget`` is passed (so it is cheap)."""
    size = 0
    stack = [value]
    while stack and size <= budget:
        item = stack.pop()
        if isinstance(item, (str, bytes, bytearray)):
            size += len(item) + 8
        elif isinstance(item, dict):
            size += 16 * len(item) + 8
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            size += 8 * len(item) + 8
            stack.extend(item)
        else:
            size += 8
    return size


class _Worker:
    """One child process and its pipes."""

    def __init__(self, proc: asyncio.subprocess.Process, max_bytes: int) -> None:
        self.proc = proc
        self.max_bytes = max_bytes
        assert proc.stdin is not None and proc.stdout is not None
        self.stdin = proc.stdin
        self.stdout = proc.stdout

    @classmethod
    async def start(cls, preload: Iterable[str], limits: PoolLimits) -> _Worker:
        args = [sys.executable, "-m", "flowengine.workerchild", "--memory-mb", str(limits.memory_mb)]
        args += ["--max-bytes", str(limits.max_bytes)]
        for module in preload:
            args += ["--preload", module]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")]))}
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
        )
        worker = cls(proc, limits.max_bytes)
        try:
            ready = await worker.receive()  # its imports are done: a task's time limit never pays for them
        except BaseException:
            await worker.reap()
            raise
        if ready != ("ready", None):
            await worker.reap()
            raise ExpressionError(f"a user-code worker started badly: {ready!r:.80}")
        return worker

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    async def send(self, value: Any) -> None:
        self.stdin.write(dump_frame(value, self.max_bytes))
        await self.stdin.drain()

    async def receive(self) -> Any:
        header = await self.stdout.readexactly(_HEADER.size)
        (size,) = _HEADER.unpack(header)
        if size > self.max_bytes:
            raise ExpressionLimitError(f"worker answered {size} bytes, more than {self.max_bytes}")
        return loads(await self.stdout.readexactly(size))

    def kill(self) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    async def reap(self) -> None:
        self.kill()
        with contextlib.suppress(Exception):
            await self.proc.wait()


Callback = Callable[..., Any]


class WorkerPool:
    """Up to ``limits.workers`` reusable worker processes on the current event loop."""

    def __init__(self, preload: Iterable[str] = (), limits: PoolLimits | None = None) -> None:
        self.preload = tuple(preload)
        self.limits = limits or PoolLimits()
        self._slots = asyncio.Semaphore(self.limits.workers)
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        #: Workers killed because a task hit a limit or was cancelled (for tests and logs).
        self.replaced = 0

    async def run(
        self, handler: str, args: Any, *, seconds: float, callbacks: Mapping[str, Callback] | None = None
    ) -> Any:
        """``handler(args, call)`` in a worker, answered within ``seconds`` or killed.

        Raises ExpressionLimitError (time, memory, size), ExpressionError (the handler's
        own failure, with its message). Cancelling the caller kills the worker at once.
        """
        frame = self._frame(("run", handler, args, seconds))
        async with self._slots:
            worker = await self._acquire()
            healthy = False
            try:
                kind, value = await asyncio.wait_for(self._converse(worker, frame, callbacks or {}), seconds)
                healthy = kind != "memory"
            except TimeoutError:
                raise ExpressionLimitError(f"exceeded its time limit of {seconds:g}s (worker stopped)") from None
            except (asyncio.IncompleteReadError, ConnectionError):
                raise ExpressionLimitError("exceeded a limit: its worker ran out of memory or CPU time") from None
            finally:
                self._release(worker, healthy)
        if kind == "done":
            return value
        raise (ExpressionLimitError if kind in ("limit", "memory") else ExpressionError)(value)

    def _frame(self, task: tuple[Any, ...]) -> bytes:
        limit = self.limits.max_bytes
        if self._closed:
            raise ExpressionError("the user-code worker pool is closed")
        if _plain_size(task, limit) > limit:
            raise ExpressionLimitError(f"message too big to evaluate (over {limit} bytes)")
        try:
            return dump_frame(task, limit)
        except ValueError as exc:
            raise ExpressionLimitError(f"message too big to evaluate: {exc}") from None

    async def _converse(self, worker: _Worker, frame: bytes, callbacks: Mapping[str, Callback]) -> tuple[str, Any]:
        """Send the task, answer the worker's calls; ("done", value) or (failure kind, message)."""
        worker.stdin.write(frame)
        await worker.stdin.drain()
        while True:
            message = await worker.receive()
            if message[0] == "done":
                return "done", message[1]
            if message[0] == "fail":
                return message[1], message[2]
            await worker.send(await self._answer(callbacks, message[1], message[2]))

    async def _answer(self, callbacks: Mapping[str, Callback], name: str, args: tuple[Any, ...]) -> tuple[str, Any]:
        callback = callbacks.get(name)
        if callback is None:
            return ("error", f"unknown function {name!r}")
        try:
            value = callback(*args)
            if isinstance(value, Awaitable):
                value = await value
        except ExpressionError as exc:
            return ("error", str(exc))
        if _plain_size(value, self.limits.max_bytes) > self.limits.max_bytes:
            return ("error", f"{name}: value too big to pass to the expression")
        return ("value", value)

    # -- workers ----------------------------------------------------------------------

    async def _acquire(self) -> _Worker:
        while self._idle:
            worker = self._idle.pop()
            if worker.alive:
                break
        else:
            worker = await asyncio.wait_for(_Worker.start(self.preload, self.limits), self.limits.start_seconds)
        if self._closed:
            await worker.reap()
            raise ExpressionError("the user-code worker pool is closed")
        self._busy.add(worker)
        return worker

    def _release(self, worker: _Worker, healthy: bool) -> None:
        self._busy.discard(worker)
        if healthy and worker.alive and not self._closed:
            self._idle.append(worker)
            return
        if worker.alive and not self._closed:
            self.replaced += 1
        worker.kill()
        self._spawn(worker.reap())

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def warm(self) -> None:
        """Start one worker in the background when none is running (start-up takes ~0.1-0.3 s)."""
        if self._idle or self._busy or self._tasks or self._closed:
            return

        async def start() -> None:
            try:
                worker = await asyncio.wait_for(_Worker.start(self.preload, self.limits), self.limits.start_seconds)
            except Exception:
                log.exception("could not start a user-code worker")
                return
            self._release(worker, healthy=True)

        self._spawn(start())

    @property
    def size(self) -> int:
        """Worker processes alive now."""
        return sum(w.alive for w in (*self._idle, *self._busy))

    async def close(self) -> None:
        """Kill every worker, busy ones too (their tasks end with an error)."""
        self._closed = True
        workers, self._idle = [*self._idle, *self._busy], []
        for worker in workers:
            worker.kill()
        await asyncio.gather(*(w.reap() for w in workers), return_exceptions=True)
        while self._tasks:  # a worker that was starting is reaped by a task spawned on its release
            await asyncio.gather(*self._tasks, return_exceptions=True)
