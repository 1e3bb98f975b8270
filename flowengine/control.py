"""Talking to the agent that runs on a state dir: is one running, and requests it answers.

- **Who runs**: the agent holds an exclusive ``flock`` on ``<state dir>/agent.pid``
  (its pid inside) for as long as it runs, and removes the file when it stops. A
  lock dies with its process, so a file left by a killed agent is never taken for
  a running one, and a pid is only read while its process provably holds the lock.
- **Requests**: a command writes ``control/<id>.request`` (JSON, atomically) and
  waits for ``control/<id>.reply``; the agent looks for requests every
  :data:`POLL_SECONDS`, answers each one and the command removes the reply.

Why files and not a signal: SIGHUP already reloads the flows; a signal carries
neither what is asked nor an answer, needs the agent's user, and its default
action kills a process that does not expect it. A request file says what to do,
its reply says what happened, and both need no more than the state dir.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from flowengine.errors import FlowError, StateError
from flowengine.state import read_regular_file, write_json

log = logging.getLogger("flowengine.control")

PID_FILE = "agent.pid"
CONTROL_DIR = "control"
#: How often the agent looks for requests.
POLL_SECONDS = 0.25

Handler = Callable[[dict[str, Any]], Awaitable[Mapping[str, Any]]]


class ControlError(FlowError, TimeoutError):
    """The agent did not take or did not answer a request in time."""


class AgentLock:
    """The running agent's claim on its state dir (:meth:`acquire` at start, :meth:`release` at stop)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / PID_FILE
        self._fd: int | None = None

    def acquire(self) -> int | None:
        """Take the lock and write our pid; the pid of another agent holding it, or None when taken."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = _read_pid(fd)
            os.close(fd)
            return other if other is not None else -1
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self._fd = fd
        return None

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


def running_agent(state_dir: Path) -> int | None:
    """The pid of the agent running on ``state_dir``, or None when none is."""
    try:
        fd = os.open(state_dir / PID_FILE, os.O_RDONLY | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _read_pid(fd)
        return pid if pid is not None else -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None  # a file left by an agent that did not stop cleanly
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


class ControlServer:
    """The agent's side: answers each request file with ``handler(request)``."""

    def __init__(self, state_dir: Path, handler: Handler) -> None:
        self.directory = state_dir / CONTROL_DIR
        self.handler = handler

    async def serve(self) -> None:
        """Answer requests until cancelled."""
        self.directory.mkdir(exist_ok=True)
        while True:
            for path in sorted(self.directory.glob("*.request")):
                await self._answer(path)
            await asyncio.sleep(POLL_SECONDS)

    async def _answer(self, path: Path) -> None:
        request_id = path.name.removesuffix(".request")
        try:
            request = json.loads(read_regular_file(path, 1024 * 1024))
        except (OSError, ValueError) as exc:
            request = {"invalid": str(exc)}
        with contextlib.suppress(OSError):
            path.unlink()
        reply = await self._reply(request)
        try:
            await asyncio.to_thread(write_json, self.directory / f"{request_id}.reply", reply)
        except StateError as exc:
            log.error("control request %s: cannot write the reply: %s", request_id, exc)

    async def _reply(self, request: Any) -> Mapping[str, Any]:
        if not isinstance(request, dict) or not isinstance(request.get("action"), str):
            return {"ok": False, "error": "a control request is a JSON object with an action"}
        log.info("control request: %s", request["action"])
        try:
            return await self.handler(request)
        except Exception as exc:
            log.exception("control request %s failed", request["action"])
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def ask_agent(
    state_dir: Path,
    request: Mapping[str, Any],
    timeout: float,
    waiting: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Send ``request`` to the agent running on ``state_dir`` and return its reply.

    ``waiting(seconds)`` is called about every second while there is no reply yet
    (a progress line). Raises :class:`ControlError` when the agent neither took nor
    answered the request in time (a request not taken is withdrawn).
    """
    directory = state_dir / CONTROL_DIR
    request_id = uuid.uuid4().hex
    asked, reply = directory / f"{request_id}.request", directory / f"{request_id}.reply"
    write_json(asked, dict(request))
    started = shown = time.monotonic()
    while not reply.exists():
        now = time.monotonic()
        if now - started > timeout:
            raise ControlError(_no_reply(asked, timeout))
        if waiting is not None and now - shown >= 1.0:
            shown = now
            waiting(now - started)
        time.sleep(0.05)
    try:
        answer = json.loads(read_regular_file(reply))
    finally:
        reply.unlink(missing_ok=True)
    return answer if isinstance(answer, dict) else {"ok": False, "error": "unreadable reply"}


def _no_reply(asked: Path, timeout: float) -> str:
    try:
        asked.unlink()
    except FileNotFoundError:
        return f"the agent took the request but did not answer within {timeout:g} s"
    return f"the agent did not take the request within {timeout:g} s"
