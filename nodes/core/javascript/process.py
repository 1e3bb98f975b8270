"""A function node's JavaScript worker process, seen from the runtime.

The node's code runs in ``worker.py`` in a child process: whatever the code does, the
event loop only ever writes lines to a pipe and reads lines back. Entries (messages,
timer firings) are numbered and written without waiting (up to :data:`WINDOW` in flight);
the worker answers each with ``idle``. The engine inside the worker stops code at its
time limit; a watchdog here, on the event loop's real clock, kills the worker when an
entry runs :func:`grace` past that limit anyway (a native loop the engine cannot
interrupt), reports the entry's timeout and starts a fresh worker, which gets the entries
still waiting. A worker that exits on its own is restarted the same way.

The watchdog and start timeouts use the event loop's clock, not the runtime clock: they
measure how long a process really ran, as Node-RED's ``vm`` timeout does, and stay real
when tests drive node timers with a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from flowengine.errors import NodeError
from flowengine.message import Msg
from nodes.core.javascript.wire import decode, encode

WORKER = Path(__file__).with_name("worker.py")
#: Entries handed to the worker before the node waits for it to catch up (its inbox fills instead).
WINDOW = 64
#: Seconds a worker may take to start (process, engine, the node's code, On Start).
START_TIMEOUT = 10.0
#: Seconds ``close`` waits for the entries in hand and On Stop before it kills the worker.
CLOSE_WAIT = 1.0
#: Restarts without one finished entry in between before the node gives up on its worker.
MAX_RESTARTS = 3
#: How the worker's "entry finished" events start (``{"t":"idle","seq":N}``).
IDLE = b'{"t":"idle","seq":'
#: Requests the worker waits on: answered at once from the protocol callback.
REQUESTS = frozenset({"get", "keys", "env"})
#: Events handled while the node closes (the rest would reach a flow that is being replaced).
WHILE_CLOSING = frozenset({"log", "set", "error"})


def grace(seconds: float) -> float:
    """How long past its time limit an entry may run before its worker is killed."""
    return max(1.0, seconds)


@dataclass
class Entry:
    """Something the worker is asked to run: a message, or a timer of the code firing (``msg`` None)."""

    seq: int
    line: bytes
    msg: Msg | None


class Host(Protocol):
    """The node behind a worker: what the code's events and requests turn into."""

    def event(self, event: dict[str, Any]) -> None: ...

    def request(self, event: dict[str, Any]) -> bytes: ...

    def abandoned(self, entry: Entry, why: str) -> None:
        """The worker was killed (``why`` "time") or died ("exit") while it ran ``entry``."""

    def reset(self, reason: str) -> None: ...


class _Pipes(asyncio.SubprocessProtocol):
    """Splits the worker's output into lines for its :class:`JsProcess`."""

    def __init__(self, owner: JsProcess) -> None:
        self.owner = owner
        self.partial = b""
        self.exited = asyncio.Event()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        *lines, self.partial = (self.partial + data).split(b"\n")
        for line in lines:
            self.owner.on_line(line)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self.owner.on_gone(self)

    def process_exited(self) -> None:
        self.exited.set()


class JsProcess:
    """One worker process and the entries it owes answers for."""

    def __init__(self, spec: dict[str, Any], host: Host, seconds: float, log: logging.LoggerAdapter[Any]) -> None:
        self.spec = spec
        self.host = host
        self.seconds = seconds
        self.log = log
        self.entries: deque[Entry] = deque()
        self.state = "new"  # starting, running, restarting, closing, closed, failed
        self.restarts = 0
        self._seq = 0
        self._pipes: _Pipes | None = None
        self._transport: asyncio.SubprocessTransport | None = None
        self._stdin: Any = None
        self._outbox: list[bytes] = []
        self._waiting: asyncio.Future[None] | None = None
        self._room = asyncio.Event()
        self._room.set()
        self._head_since = 0.0
        self._watchdog: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None  # getting ready, or starting again

    @property
    def idle(self) -> bool:
        """No entry in the worker's hands and no worker starting."""
        return not self.entries and self.state not in ("starting", "restarting")

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Start the worker process. It gets ready (the node's code, On Start) in the background;
        entries submitted meanwhile wait for it."""
        loop = asyncio.get_running_loop()
        self.state = "starting"
        self._waiting = loop.create_future()
        self._transport, self._pipes = await loop.subprocess_exec(
            lambda: _Pipes(self),
            *(sys.executable, "-I", "-S", str(WORKER)),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,
            start_new_session=True,  # a Ctrl-C in a terminal is the agent's to handle, not the worker's
            env={"PATH": os.defpath},
        )
        self._stdin = self._transport.get_pipe_transport(0)
        self._stdin.write(encode(self.spec) + b"\n")  # first, before anything in the outbox
        self._task = loop.create_task(self._until_ready())

    async def _until_ready(self) -> None:
        limit = START_TIMEOUT + self.seconds
        assert self._waiting is not None
        try:
            await asyncio.wait_for(asyncio.shield(self._waiting), limit)
        except (TimeoutError, NodeError) as exc:
            reason = str(exc) or f"the JavaScript worker did not start within {limit:.0f}s"
            self.log.error("%s", reason)
            self._restart(reason, lost_state=False)
            return
        self.state = "running"
        for entry in self.entries:
            self._write(entry.line)
        self._head_since = asyncio.get_running_loop().time()
        self._arm()

    async def close(self) -> None:
        """Run On Stop (waiting at most :data:`CLOSE_WAIT` for it and the entries in hand), then end the worker."""
        if self.state == "starting" and self._task is not None:  # On Stop follows On Start
            await asyncio.wait({self._task}, timeout=CLOSE_WAIT)
        previous, self.state = self.state, "closing"
        if self._watchdog:
            self._watchdog.cancel()
        if self._task:
            self._task.cancel()
        if previous == "running":
            self._waiting = asyncio.get_running_loop().create_future()
            self._write(b"c 0\n")
            try:
                await asyncio.wait_for(asyncio.shield(self._waiting), CLOSE_WAIT)
            except (TimeoutError, NodeError):
                self.log.warning("On Stop did not finish within %.1fs: the JavaScript worker was killed", CLOSE_WAIT)
        pipes = self._pipes
        self._kill()
        if pipes is not None:  # reaped before the event loop that started it may close
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pipes.exited.wait(), CLOSE_WAIT)
        self.state = "closed"
        self._room.set()

    def _write(self, line: bytes) -> None:
        """Queue a line for the worker: everything queued in one turn of the event loop goes in one write."""
        if not self._outbox:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outbox.append(line)

    def _flush(self) -> None:
        if self._outbox and self._transport is not None:
            self._stdin.write(b"".join(self._outbox))
        self._outbox.clear()

    def _kill(self) -> None:
        self._outbox.clear()
        if self._transport is not None:
            self._pipes = None  # what the old worker still says is not for us
            if self._transport.get_returncode() is None:
                self._transport.kill()
            self._transport.close()
            self._transport = None

    # -- entries ------------------------------------------------------------------------

    def submit(self, kind: bytes, body: bytes, msg: Msg | None) -> Awaitable[Any] | None:
        """Hand an entry to the worker; returns an awaitable when :data:`WINDOW` entries are in flight."""
        if self.state in ("closing", "closed", "failed"):
            return None
        self._seq += 1
        entry = Entry(self._seq, b"%s %d %s\n" % (kind, self._seq, body), msg)
        self.entries.append(entry)
        if self.state == "running":
            self._write(entry.line)
            if len(self.entries) == 1:
                self._head_since = asyncio.get_running_loop().time()
                self._arm()
        if len(self.entries) >= WINDOW:
            self._room.clear()
            return self._room.wait()
        return None

    def on_line(self, line: bytes) -> None:
        if line.startswith(IDLE):  # one per entry: read without a JSON parse
            self._finished(int(line[len(IDLE) : -1]))
            return
        try:
            event = decode(line)
            kind = event.get("t")
            if kind == "idle":
                self._finished(int(event["seq"]))
            elif kind in REQUESTS:
                self._write(b"r " + self.host.request(event) + b"\n")
            elif kind in ("ready", "closed"):
                self._settle(None)
            elif self.state != "closing" or kind in WHILE_CLOSING:
                self.host.event(event)
        except Exception:
            self.log.exception("could not handle the JavaScript worker's %r", line[:200])

    def _finished(self, seq: int) -> None:
        while self.entries and self.entries[0].seq <= seq:
            self.entries.popleft()
        self.restarts = 0
        self._head_since = asyncio.get_running_loop().time()
        if len(self.entries) < WINDOW:
            self._room.set()

    def _settle(self, error: BaseException | None) -> None:
        if self._waiting is not None and not self._waiting.done():
            if error is None:
                self._waiting.set_result(None)
            else:
                self._waiting.set_exception(error)

    # -- watchdog and restarts ----------------------------------------------------------

    def _arm(self) -> None:
        if self._watchdog is None and self.entries and self.state == "running":
            due = self._head_since + self.seconds + grace(self.seconds)
            self._watchdog = asyncio.get_running_loop().call_at(due, self._watch)

    def _watch(self) -> None:
        self._watchdog = None
        if not self.entries or self.state != "running":
            return
        if asyncio.get_running_loop().time() < self._head_since + self.seconds + grace(self.seconds):
            self._arm()
            return
        self.host.abandoned(self.entries.popleft(), "time")
        self._restart(f"an entry ran {grace(self.seconds):.1f}s past its time limit and its worker was killed")

    def on_gone(self, pipes: _Pipes) -> None:
        """The worker's output ended: expected when we ended it, a crash otherwise."""
        if pipes is not self._pipes:
            return
        code = self._transport.get_returncode() if self._transport else None
        if self.state == "starting":
            self._settle(NodeError(f"the JavaScript worker exited while starting (exit status {code})"))
        elif self.state == "closing":
            self._settle(None)
        elif self.state == "running":
            if self.entries:
                self.host.abandoned(self.entries.popleft(), "exit")
            self._restart(f"its worker exited (exit status {code})")

    def _restart(self, reason: str, lost_state: bool = True) -> None:
        self._kill()
        self.entries = deque(e for e in self.entries if e.msg is not None)  # timers belonged to the old code
        if lost_state:
            self.host.reset(reason)
        self.restarts += 1
        if self.restarts > MAX_RESTARTS:
            self.state = "failed"
            self.entries.clear()
            self._room.set()
            self.log.error(
                "the JavaScript worker failed %d times in a row; the node stops handling messages", self.restarts
            )
            return
        self.state = "restarting"
        self._task = asyncio.get_running_loop().create_task(self._start_again())

    async def _start_again(self) -> None:
        try:
            await self.start()
        except OSError as exc:
            self.log.error("the JavaScript worker could not be started: %s", exc)
            self._restart(str(exc), lost_state=False)
