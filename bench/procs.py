"""Processes a bench runs beside itself (an agent, Node-RED, a simulator), stopped however the bench ends."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def running(cmd: list[str], log: Path, **popen: Any) -> Iterator[subprocess.Popen[bytes]]:
    """``cmd`` with its output in ``log``; terminated on exit, killed if it ignores that for 10 s."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, **popen)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
