"""Messages per second through a 5-node chain, next to the same work done by direct Python calls.

Two chains, each measured in the same run as its baseline:

* ``pass``: five pass-through nodes; the baseline is five plain function calls,
  so the ratio is the engine's cost per hop (inbox, worker task, routing).
* ``change``: five Node-RED ``change`` nodes each setting ``msg.payload.hopN``;
  the baseline does the same ``set_path`` calls directly.

Prints figures only (no assertions). Usage: ``.venv/bin/python bench/bench_engine.py [--messages N]``
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/results.py

from results import emit

from flowengine.flowfile import flows_from_objects
from flowengine.message import Msg, make_msg, set_path
from flowengine.node import Node
from flowengine.registry import NodeTypeRegistry
from flowengine.runtime import Runtime

HOPS = 5
BATCH = 1000  # messages injected before waiting for the sink (stays far below the inbox limit)


class PassNode(Node):
    """Forwards every message unchanged."""

    def on_input(self, msg: Msg) -> None:
        self.send(msg)


class SinkNode(Node):
    """Counts arrivals and wakes the driver when a batch is through."""

    outputs = 0
    count = 0
    target = 0
    done: asyncio.Event | None = None

    def on_input(self, msg: Msg) -> None:
        self.count += 1
        if self.count >= self.target and self.done is not None:
            self.done.set()


def chain(node_type: str, props: Callable[[int], dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [f"n{i}" for i in range(HOPS)] + ["sink"]
    nodes = [{"id": ids[i], "type": node_type, "z": "t", "wires": [[ids[i + 1]]], **props(i)} for i in range(HOPS)]
    return [*nodes, {"id": "sink", "type": "bench sink", "z": "t", "wires": []}]


def change_props(hop: int) -> dict[str, Any]:
    return {"rules": [{"t": "set", "p": f"payload.hop{hop}", "pt": "msg", "to": str(hop), "tot": "num"}]}


async def through_engine(nodes: list[dict[str, Any]], count: int) -> float:
    """Seconds to push ``count`` messages through the chain to the sink."""
    registry = NodeTypeRegistry()
    registry.register("bench pass", PassNode)
    registry.register("bench sink", SinkNode)
    runtime = Runtime(registry)
    await runtime.deploy(flows_from_objects("bench", nodes))
    sink = runtime.nodes["sink"]
    assert isinstance(sink, SinkNode)
    sink.done = asyncio.Event()
    start = time.perf_counter()
    for first in range(0, count, BATCH):
        sink.target = min(count, first + BATCH)
        sink.done.clear()
        for _ in range(first, sink.target):
            runtime.inject("n0", make_msg({"v": 1}))
        await sink.done.wait()
    elapsed = time.perf_counter() - start
    await runtime.stop()
    return elapsed


def direct(hops: list[Callable[[Msg], Msg]], count: int) -> float:
    """Seconds for the same work as plain nested function calls."""
    start = time.perf_counter()
    for _ in range(count):
        msg = make_msg({"v": 1})
        for hop in hops:
            msg = hop(msg)
    return time.perf_counter() - start


def pass_hop(msg: Msg) -> Msg:
    return msg


def set_hop(hop: int) -> Callable[[Msg], Msg]:
    def run(msg: Msg) -> Msg:
        set_path(msg, f"payload.hop{hop}", hop)
        return msg

    return run


def report(name: str, count: int, engine: float, baseline: float) -> None:
    rate, base = count / engine, count / baseline
    print(f"{name:<8} engine {rate:>10,.0f} msg/s   direct {base:>11,.0f} msg/s   engine/direct {rate / base:.3f}")
    emit("engine", f"5 {name} nodes", rate, "msg/s", baseline=base, baseline_name="direct calls", higher=True)


async def main(count: int) -> None:
    print(f"{HOPS}-node chain, {count:,} messages; Python {platform.python_version()} on {platform.machine()}")
    await through_engine(chain("bench pass", lambda i: {}), BATCH)  # warm-up (imports, caches)
    report(
        "pass", count, await through_engine(chain("bench pass", lambda i: {}), count), direct([pass_hop] * HOPS, count)
    )
    report(
        "change",
        count,
        await through_engine(chain("change", change_props), count),
        direct([set_hop(i) for i in range(HOPS)], count),
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    asyncio.run(main(parser.parse_args().messages))
