"""The program a user-code worker process runs (``python -m flowengine.workerchild``).

It imports the modules it is told to preload, caps its own address space
(``RLIMIT_AS``), then serves tasks from its parent over stdin/stdout, one at a time:
``("run", "module:function", args, cpu_seconds)`` calls ``function(args, call)`` where
``call(name, *args)`` asks the parent for a value (a context read, say) and waits for
the answer. Before each task the CPU limit (``RLIMIT_CPU``) is moved to what the
process used so far plus the task's budget: a runaway that the parent somehow failed
to kill is still stopped by the kernel. The parent dying kills this process too
(``PR_SET_PDEATHSIG``), and an idle worker exits when its stdin closes.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib
import math
import resource
import signal
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

from flowengine.errors import ExpressionError
from flowengine.workerpool import dump_frame, load_frame

_PR_SET_PDEATHSIG = 1


def main() -> None:
    options = _arguments()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when a worker ends
    _die_with_parent()
    for module in options.preload:
        importlib.import_module(module)
    _cap_memory(options.memory_mb)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the frame stream
    stdout.write(dump_frame(("ready", None), options.max_bytes))  # start-up is over: tasks' time starts now
    stdout.flush()
    _serve(stdin, stdout, options.max_bytes)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="flowengine.workerchild")
    parser.add_argument("--preload", action="append", default=[])
    parser.add_argument("--memory-mb", type=int, default=256)
    parser.add_argument("--max-bytes", type=int, default=4 << 20)
    return parser.parse_args()


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not Linux: stdin EOF and RLIMIT_CPU still end it
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _cap_memory(budget_mb: int) -> None:
    """Address space: what the preloaded modules reserved plus ``budget_mb``."""
    with open("/proc/self/status") as status:
        size_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    limit = size_kb * 1024 + budget_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _serve(stdin: BinaryIO, stdout: BinaryIO, max_bytes: int) -> None:
    handlers: dict[str, Callable[..., Any]] = {}
    while True:
        frame = load_frame(stdin, max_bytes)
        if frame is None:
            return
        _, target, args, cpu_seconds = frame
        _limit_cpu(cpu_seconds)
        outcome = _run(handlers, target, args, _caller(stdin, stdout, max_bytes))
        try:
            data = dump_frame(outcome, max_bytes)
        except ValueError as exc:
            data = dump_frame(("fail", "limit", str(exc)), max_bytes)
        stdout.write(data)
        stdout.flush()
        if outcome[0] == "fail" and outcome[1] == "memory":
            return  # the heap may be fragmented or half-full: a fresh worker is cheaper than doubt


def _run(handlers: dict[str, Callable[..., Any]], target: str, args: Any, call: Callable[..., Any]) -> tuple[Any, ...]:
    try:
        return ("done", _handler(handlers, target)(args, call))
    except ExpressionError as exc:
        return ("fail", "limit" if type(exc).__name__ == "ExpressionLimitError" else "error", str(exc))
    except MemoryError:
        return ("fail", "memory", "ran out of memory")
    except RecursionError:
        return ("fail", "error", "nested too deeply (recursion limit)")
    except Exception as exc:
        return ("fail", "error", f"{type(exc).__name__}: {exc}")


def _handler(handlers: dict[str, Callable[..., Any]], target: str) -> Callable[..., Any]:
    if target not in handlers:
        module, _, name = target.partition(":")
        handlers[target] = getattr(importlib.import_module(module), name)
    return handlers[target]


def _caller(stdin: BinaryIO, stdout: BinaryIO, max_bytes: int) -> Callable[..., Any]:
    def call(name: str, *args: Any) -> Any:
        stdout.write(dump_frame(("call", name, args), max_bytes))
        stdout.flush()
        reply = load_frame(stdin, max_bytes)
        if reply is None:
            raise SystemExit(0)
        if reply[0] == "error":
            raise ExpressionError(reply[1])
        return reply[1]

    return call


def _limit_cpu(seconds: float) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


if __name__ == "__main__":
    main()
