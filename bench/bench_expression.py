"""Cost of one user-expression evaluation: in-process fast path, worker process, plain Python.

    .venv/bin/python bench/bench_expression.py [--n 2000]

The same expressions, same data, same run: the sandbox's in-process path, the worker pool
round trip (nodes/core/usercode.py, flowengine/workerpool.py), and Python's own eval of the
compiled expression as the baseline. JSONata: in-process (engine thread) and worker.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from flowengine.workerpool import WorkerPool
from nodes.core.jsonata import _HANDLER, TIMEOUT_MS, compile_jsonata, to_json
from nodes.core.sandbox import DEFAULT_LIMITS, Sandbox, limits_tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/results.py
from results import emit

MSG = {"_msgid": "m", "topic": "sensors/room1", "payload": {"temp": 21.5, "items": [1, 2, 3]}}
PYTHON = ["payload['temp'] * 1.8 + 32", "payload['temp'] > 20 and msg['topic'].startswith('sensors')"]
JSONATA = ["payload.temp * 1.8 + 32", '$sum(payload.items) & "/" & topic']


def per_call_us(n: int, action: Any) -> float:
    started = time.perf_counter()
    for _ in range(n):
        action()
    return (time.perf_counter() - started) / n * 1e6


async def per_await_us(n: int, action: Any) -> float:
    started = time.perf_counter()
    for _ in range(n):
        await action()
    return (time.perf_counter() - started) / n * 1e6


async def main(n: int) -> None:
    pool = WorkerPool(("nodes.core.sandbox", "nodes.core.jsonata"))
    names = {"msg": MSG, "payload": MSG["payload"]}
    print(f"{'expression':58s} {'in-process':>11s} {'worker':>9s} {'python':>8s}  (microseconds per evaluation)")
    for source in PYTHON:
        sandbox, code = Sandbox(source), compile(source, "<bench>", "eval")
        args = (source, limits_tuple(DEFAULT_LIMITS), names, [])
        await pool.run("nodes.core.sandbox:evaluate_in_worker", args, seconds=5)  # start the worker
        here = per_call_us(n, lambda s=sandbox: s.evaluate_bounded(names))
        worker = await per_await_us(n, lambda a=args: pool.run("nodes.core.sandbox:evaluate_in_worker", a, seconds=5))
        python = per_call_us(n, lambda c=code: eval(c, {}, dict(names)))
        print(f"{source:58s} {here:11.1f} {worker:9.1f} {python:8.2f}")
        emit("expression", f"in-process: {source}", here, "us", baseline=python, baseline_name="Python eval")
    for source in JSONATA:
        expression = compile_jsonata(source)
        data = to_json(MSG)
        args = (source, data, {}, 0)
        compiled = expression.compiled
        here = per_call_us(n, lambda c=compiled, d=data: c.run(d, {}, {}, 0))
        worker = await per_await_us(n, lambda a=args: pool.run(_HANDLER, a, seconds=TIMEOUT_MS / 1000 + 5))
        print(f"{'jsonata: ' + source:58s} {here:11.1f} {worker:9.1f} {'-':>8s}")
    await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    asyncio.run(main(parser.parse_args().n))
