"""A function node's JavaScript, run by QuickJS in a process of its own.

:mod:`nodes.core.javascript.process` starts this file as ``python -I -S worker.py`` (standard
library only: it imports no flowengine module). The first line it reads is the start spec
(JSON): ``mode`` "run" or "check", ``path`` (where to find the ``_quickjs`` extension), the
node's code and its limits. Then, in run mode, one line per entry::

    m <seq> <message JSON>     a message arrived
    t <seq> <timer id>         a timer of the code fired
    r <answer JSON>            the answer to the last request ("" for undefined)
    c <seq>                    the node closes: run On Stop, then exit

and it writes one JSON event per line (``send``, ``log``, ``error``, ``status``, ``set``,
``timer``, ``clear``; requests ``get``, ``keys``, ``env``; ``idle`` after each entry, ``reset``
when the code's state was recreated). In check mode each line ``k <JSON [kind, code]>`` is
answered with one line: ``""`` or the syntax error.

The engine enforces the limits it can: an interrupt handler stops the code once an entry
has run for its time limit (wall clock, as Node-RED's ``vm`` timeout), allocations fail past
the memory limit, calls fail past the stack limit. Native loops that never reach the
interrupt handler are the parent's business: it kills this process when an entry overruns
(see ``process.py``).

The interrupt handler is installed through the engine's C API (``JS_SetInterruptHandler``)
rather than the binding's ``set_time_limit``, because the binding refuses every call into
Python while its own time limit is set, and the sandbox needs those calls (``context.get``).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import os
import signal
import sys
import threading
import time
from collections import deque
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
#: The JavaScript stack limit is measured on this thread's real stack, so it needs room above it.
THREAD_STACK_BYTES = 64 << 20
#: After an out-of-memory error, a context still holding more than this share of its limit is recreated.
MEMORY_KEPT_SHARE = 0.5
ENTRIES = ("start", "message", "timer", "close", "limit", "check")


def _source(name: str) -> str:
    with open(os.path.join(HERE, name), encoding="utf-8") as file:
        return file.read()


class Channel:
    """Lines from the parent, events to it.

    Events are written when there is nothing more to read: one write for a whole batch of
    entries when the parent sends faster than the code runs, one per entry otherwise.
    """

    def __init__(self, fd_in: int, out: Any) -> None:
        self.fd_in = fd_in
        self.out = out
        self.lines: deque[bytes] = deque()
        self.partial = b""
        self.events: list[str] = []

    def next_line(self) -> bytes:
        """The next line from the parent (b"" when it has gone)."""
        while not self.lines:
            self.flush()  # nothing left to do until the parent writes again: hand over the events
            if not self._read():
                return b""
        return self.lines.popleft()

    def _read(self) -> bool:
        data = os.read(self.fd_in, 1 << 16)
        if not data:
            return False
        *complete, self.partial = (self.partial + data).split(b"\n")
        self.lines.extend(complete)
        return True

    def emit(self, event: str) -> None:
        self.events.append(event)

    def flush(self) -> None:
        if self.events:
            self.events.append("")
            data = "\n".join(self.events).encode("utf-8", "surrogatepass")
            self.events = []
            try:
                self.out.write(data)
                self.out.flush()
            except (BrokenPipeError, ValueError):  # the parent is gone
                os._exit(0)

    def request(self, query: str) -> str:
        """Ask the parent and wait for its answer (lines that arrive meanwhile keep their turn)."""
        try:
            self.emit(query)
            self.flush()
            seen = 0
            while True:
                for index in range(seen, len(self.lines)):
                    if self.lines[index].startswith(b"r "):
                        answer = self.lines[index]
                        del self.lines[index]
                        return answer[2:].decode()
                seen = len(self.lines)
                if not self._read():
                    return ""
        except Exception:  # an exception must not cross into the engine
            return ""


class Silent(Channel):
    """Events that go nowhere: code that runs while it is checked must not write to the parent."""

    def __init__(self) -> None:
        super().__init__(-1, None)

    def flush(self) -> None:
        self.events.clear()

    def request(self, query: str) -> str:
        return ""


_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


class Deadline:
    """QuickJS's interrupt handler: the code running now stops once ``at`` (monotonic) has passed."""

    def __init__(self, engine: Any, context: Any) -> None:
        self.at = math.inf
        library = ctypes.CDLL(engine.__file__)
        library.JS_SetInterruptHandler.argtypes = [ctypes.c_void_p, _HANDLER, ctypes.c_void_p]
        library.JS_GetRuntime.argtypes = [ctypes.c_void_p]
        library.JS_GetRuntime.restype = ctypes.c_void_p
        self._handler = _HANDLER(self._expired)  # referenced for as long as the context lives
        library.JS_SetInterruptHandler(_runtime_of(context, library), self._handler, None)

    def _expired(self, runtime: int, opaque: int) -> int:
        return 1 if time.monotonic() > self.at else 0


def _runtime_of(context: Any, library: Any) -> int:
    """The ``JSRuntime *`` of a binding Context: its first field after the object header.

    The binding's Context struct starts ``PyObject_HEAD; JSRuntime *runtime; JSContext *context``
    (quickjs-ng 0.17). The header is checked against the object's type and the runtime
    against ``JS_GetRuntime(context)`` before the pointer is used.
    """
    word = ctypes.sizeof(ctypes.c_void_p)
    fields = (ctypes.c_void_p * 4).from_address(id(context))
    if fields[1] != id(type(context)) or word != ctypes.sizeof(ctypes.c_ssize_t):
        raise RuntimeError("unexpected layout of the JavaScript engine's Context object")
    runtime, js_context = fields[2], fields[3]
    if not runtime or library.JS_GetRuntime(js_context) != runtime:
        raise RuntimeError("unexpected layout of the JavaScript engine's Context object")
    return int(runtime)


class Sandbox:
    """One QuickJS context with the sandbox loaded and the node's code started."""

    def __init__(self, engine: Any, spec: dict[str, Any], channel: Channel) -> None:
        limits = spec["limits"]
        self.out_of_memory = False
        self.context = context = engine.Context()
        context.set_memory_limit(int(limits["memory"]))
        context.set_max_stack_size(int(limits["stack"]))
        self.deadline = Deadline(engine, context)
        context.add_callable("__fe_emit", channel.emit)
        context.add_callable("__fe_request", channel.request)
        context.add_callable("__fe_out_of_memory", self._ran_out_of_memory)
        context.eval(BUFFER_JS)
        context.eval(SANDBOX_JS)
        self.entries = {name: context.get(f"__fe_{name}") for name in ENTRIES}
        context.eval("".join(f"delete globalThis.__fe_{name};" for name in ENTRIES))

    def _ran_out_of_memory(self) -> None:
        self.out_of_memory = True

    def holds_most_memory(self, limit: int) -> bool:
        """After an out-of-memory error: is most of the limit still in use (held by the code's state)?"""
        self.out_of_memory = False
        self.context.gc()
        return int(self.context.memory().get("memory_used_size", 0)) > MEMORY_KEPT_SHARE * limit


class Worker:
    """Runs entries one at a time, each under the time limit, and reports what went wrong."""

    def __init__(self, engine: Any, spec: dict[str, Any], channel: Channel) -> None:
        self.engine = engine
        self.errors = (engine.JSException, getattr(engine, "StackOverflow", engine.JSException))
        self.spec = spec
        self.channel = channel
        self.seconds = float(spec["limits"]["seconds"])
        self.sandbox: Sandbox
        self.generation = 0
        self.starting = False
        self._start()

    def _start(self) -> None:
        """A new context running the node's code (On Start included); timer ids never repeat."""
        self.sandbox = Sandbox(self.engine, self.spec, self.channel)
        start = {k: self.spec[k] for k in ("node", "func", "initialize", "finalize")}
        start["firstTimer"] = self.generation * 1_000_000_000 + 1
        self.starting = True
        try:
            self._run(self.sandbox.entries["start"], json.dumps(start), "{}")
        finally:
            self.starting = False

    def serve(self) -> None:
        self.channel.emit('{"t":"ready"}')
        self.channel.flush()
        while line := self.channel.next_line():
            kind, _, rest = line.partition(b" ")
            seq, _, body = rest.partition(b" ")
            if kind == b"c":
                self._run(self.sandbox.entries["close"], None, "{}")
                self.channel.emit('{"t":"closed"}')
                self.channel.flush()
                return
            if kind == b"m":
                text = body.decode()
                self._run(self.sandbox.entries["message"], text, text)
            elif kind == b"t":
                self._run(self.sandbox.entries["timer"], int(body), "{}")
            self.channel.emit(f'{{"t":"idle","seq":{int(seq)}}}')

    def _run(self, entry: Any, arg: Any, msg_json: str) -> None:
        """One entry and the promise jobs it caused, all within the time limit."""
        deadline = self.sandbox.deadline
        deadline.at = time.monotonic() + self.seconds
        try:
            failure = self._call(entry, arg)
            while failure is None:
                failure = self._job()
        finally:
            deadline.at = math.inf
        if failure != "done":
            self._fail(failure, msg_json)
        sandbox = self.sandbox
        if sandbox.out_of_memory and not self.starting and sandbox.holds_most_memory(self.spec["limits"]["memory"]):
            self._reset("it still held most of its memory limit after running out of memory")

    def _call(self, entry: Any, arg: Any) -> str | None:
        try:
            entry() if arg is None else entry(arg)
        except self.errors as exc:
            return _classify(exc)
        except Exception as exc:
            return f"JavaScript worker error: {exc!r}"
        return None

    def _job(self) -> str | None:
        try:
            return None if self.sandbox.context.execute_pending_job() else "done"
        except self.errors as exc:
            return _classify(exc)
        except Exception as exc:
            return f"JavaScript worker error: {exc!r}"

    def _fail(self, failure: str, msg_json: str) -> None:
        """Report a limit (or an error that escaped the sandbox) and recreate the context if it cannot go on."""
        kind = "memory" if failure == "memory" else "time"
        if failure in ("time", "memory"):
            try:
                self.sandbox.entries["limit"](kind)
            except Exception:
                self.channel.emit(_limit_event(kind, self.spec["node"], msg_json))
        else:
            self.channel.emit(json.dumps({"t": "log", "level": "error", "text": failure}))
        if failure == "memory":
            self.sandbox.out_of_memory = True

    def _reset(self, reason: str) -> None:
        self.channel.emit(json.dumps({"t": "reset", "reason": reason}))
        self.generation += 1
        self._start()


def _classify(exc: Exception) -> str:
    first = str(exc).split("\n", 1)[0]
    if first == "InternalError: interrupted":
        return "time"
    if first == "InternalError: out of memory":
        return "memory"
    return f"JavaScript error outside the code: {first}"


def _limit_event(kind: str, node: dict[str, Any], msg_json: str) -> str:
    """The limit error built without the engine (it could not run any more code)."""
    if kind == "memory":
        text = f"RangeError: Function node memory limit exceeded ({node['memoryMiB']} MiB)"
        code = "ERR_FUNCTION_MEMORY_LIMIT"
    else:
        text = f"Error: Script execution timed out after {node['timeoutMs']}ms"
        code = "ERR_SCRIPT_EXECUTION_TIMEOUT"
    error = json.dumps({"message": text, "code": code, "stack": f"{text}\n    at Function node:{node['id']}"})
    return f'{{"t":"error","error":{error},"msg":{msg_json}}}'


def check(engine: Any, spec: dict[str, Any], channel: Channel) -> None:
    """Answer syntax checks, each in a fresh context (code may run while it is compiled)."""
    silent = Silent()
    while line := channel.next_line():
        kind, code = json.loads(line[2:])
        try:
            sandbox = Sandbox(engine, spec, silent)
            sandbox.deadline.at = time.monotonic() + float(spec["limits"]["seconds"])
            answer = sandbox.entries["check"](kind, code)
        except Exception as exc:
            answer = f"the code could not be checked: {_classify(exc)}"
        silent.flush()
        channel.emit(json.dumps(answer))


def _die_with_parent() -> None:
    """Linux: be killed when the parent dies, even in the middle of a runaway native loop."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def main() -> None:
    _die_with_parent()
    channel = Channel(sys.stdin.fileno(), sys.stdout.buffer)
    spec = json.loads(channel.next_line())
    sys.path[:0] = spec["path"]
    import _quickjs as engine

    def run() -> None:
        if spec["mode"] == "check":
            check(engine, spec, channel)
        else:
            Worker(engine, spec, channel).serve()

    threading.stack_size(THREAD_STACK_BYTES)
    thread = threading.Thread(target=run, name="javascript")
    thread.start()
    thread.join()


BUFFER_JS = _source("buffer.js")
SANDBOX_JS = _source("sandbox.js")

if __name__ == "__main__":
    main()
