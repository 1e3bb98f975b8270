"""Deploy-time syntax checks of function node code, answered by a worker process.

The engine compiles code by evaluating it, and code that closes the function it is
wrapped in would run while it is compiled, so even a syntax check never happens in
the runtime's process. One checker process serves every check (started on first use,
replaced when it dies or overruns); answers are cached by code.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import threading
from collections import OrderedDict

from nodes.core.javascript.worker import THREAD_STACK_BYTES

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
#: Seconds of engine time a check may take (code that runs while compiled is stopped then).
CHECK_SECONDS = 0.5
#: Seconds to wait for an answer before the checker is killed (a native loop the engine cannot stop).
ANSWER_TIMEOUT = 3.0
#: Distinct pieces of code whose answers are kept.
CACHE_SIZE = 512


class SyntaxChecker:
    """Answers "" (compiles) or the syntax error, with its line in the code."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()
        atexit.register(self.stop)

    def problem(self, kind: str, code: str) -> str:
        """The syntax error of ``code`` run as ``kind`` (func, initialize or finalize), or ""."""
        key = (kind, code)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self._ask(kind, code)
                if len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
            return self._cache[key]

    def _ask(self, kind: str, code: str) -> str:
        for _ in range(2):  # a checker that died since the last check is replaced once
            proc = self._process()
            try:
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(b"k " + json.dumps([kind, code]).encode() + b"\n")
                proc.stdin.flush()
                if not select.select([proc.stdout], [], [], ANSWER_TIMEOUT)[0]:
                    self.stop()
                    return f"the code could not be checked within {ANSWER_TIMEOUT:.0f}s: it runs while it is compiled"
                line = proc.stdout.readline()
                if line:
                    return str(json.loads(line))
            except OSError:
                pass
            self.stop()
        return "the code could not be checked: the JavaScript checker did not answer"

    def _process(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", WORKER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                start_new_session=True,
                env={"PATH": os.defpath},
            )
            limits = {"seconds": CHECK_SECONDS, "memory": 32 << 20, "stack": THREAD_STACK_BYTES // 4}
            spec = {"mode": "check", "path": sys.path, "limits": limits}
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps(spec).encode() + b"\n")
            self._proc.stdin.flush()
        return self._proc

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


CHECKER = SyntaxChecker()
