"""function node throughput: mqtt in -> function -> mqtt out on flowengine and on Node-RED, and the
per-call overhead of flowengine's JavaScript.

The flow is ``tests/flowfiles/nodered_function_relay.json`` (a function computing two fields of a
JSON payload), run as a separate process by each engine against one private mosquitto, rounds
alternating between engines as in ``bench_relay.py`` (whose publisher, subscriber and process
helpers this script uses). flowengine's CPU per message includes its JavaScript worker process.

Per-call overhead, in this process: a call into QuickJS-ng directly (what the engine costs), and
one message through a function node in a flowengine runtime (engine, worker pipe, JSON both
ways, routing), next to the same computation by the in-process ``expression`` node.

Prints figures only. Usage: ``.venv/bin/python bench/bench_function.py [--messages N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import bench_relay as relay
import psutil
from results import emit

from flowengine.testing import FlowHarness, Mosquitto

FLOW = relay.ROOT / "tests" / "flowfiles" / "nodered_function_relay.json"
BODY = "const p = msg.payload; p.doubled = p.n * 2; msg.topic = 'relay/out'; return msg;"
#: The baseline: the same computation by flowengine's in-process ``expression`` node.
EXPRESSION = {"type": "expression", "expression": "msg['payload']['n'] * 2", "property": "payload.doubled"}


def engine_call_us(calls: int = 200_000) -> float:
    """Microseconds per call of a trivial JavaScript function from Python, in-process."""
    import _quickjs

    context = _quickjs.Context()
    add = context.eval("(function (x) { return x + 1; })")
    started = time.perf_counter()
    for n in range(calls):
        add(n)
    return (time.perf_counter() - started) / calls * 1e6


def node_us(node: dict[str, Any], count: int, pipelined: bool) -> float:
    """Microseconds per message through one node in a runtime (pipelined: all in flight at once)."""
    with FlowHarness() as harness:
        harness.deploy([{**node, "id": "n", "z": "t", "wires": [["out"]]}, {"id": "out", "type": "helper", "z": "t", "wires": []}])  # fmt: skip
        for n in range(50):  # warm-up
            harness.inject("n", payload={"n": n, "text": "telemetry"})
        harness.received("out", 50)
        started = time.perf_counter()
        for n in range(count):
            harness.inject("n", payload={"n": n, "text": "telemetry"})
            if not pipelined:
                harness.one("out")
        if pipelined:
            harness.received("out", count, timeout=60)
        return (time.perf_counter() - started) / count * 1e6


def print_overhead(count: int) -> None:
    print(f"per-call overhead ({count:,} messages, in this process)")
    print(f"  QuickJS-ng call of a trivial function:       {engine_call_us():8.1f} us")
    function = {"type": "function", "func": BODY}
    for label, pipelined in (("one at a time (round trip)", False), ("pipelined (throughput)", True)):
        fn, ex = node_us(function, count, pipelined), node_us(EXPRESSION, count, pipelined)
        print(f"  function node, {label:<27} {fn:8.1f} us   (expression node, same work: {ex:.1f} us)")


def cpu_seconds(proc: subprocess.Popen[bytes] | None) -> float:
    """CPU seconds of the engine process and its children (flowengine's JavaScript workers)."""
    if proc is None:
        return 0.0
    parent = psutil.Process(proc.pid)
    total = 0.0
    for each in [parent, *parent.children(recursive=True)]:
        try:
            times = each.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def report_drops(engine: str, workdir: Path) -> None:
    """Print what flowengine logged about messages it dropped or calls it stopped in a round."""
    log = workdir / "flowengine.log"
    if engine != "flowengine" or not log.exists():
        return
    for line in log.read_text(errors="replace").splitlines():
        if any(word in line for word in ("inbox full", "state lost", "timed out")):
            print(f"  flowengine logged: {line.strip()[:160]}")


def main(count: int, rounds: int, engines: set[str]) -> None:
    print(f"function relay flow {FLOW.name}: {count:,} QoS 1 messages x {rounds} rounds, engines alternating")
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print_overhead(min(count, 5000))
    relay.FLOW = FLOW
    relay._cpu_seconds = cpu_seconds  # count the JavaScript worker's CPU with flowengine's
    node_red = relay.find_node_red()
    if "node-red" in engines and node_red is None:
        print("node-red         not installed (npm install --prefix bench/.node-red node-red)")
        engines = engines - {"node-red"}
    names = {"flowengine": "flowengine"}
    if node_red is not None:
        names["node-red"] = f"node-red {relay._node_red_version(node_red)}"
    order = [e for e in ("flowengine", "node-red") if e in engines]
    results: dict[str, list[dict[str, Any]]] = {e: [] for e in order}
    with tempfile.TemporaryDirectory(prefix="bench-function-") as tmp, Mosquitto(Path(tmp)) as broker:
        os.environ["MQTT_PORT"] = str(broker.port)
        for n in range(rounds):
            for engine in order:
                workdir = Path(tmp) / f"{engine}-{n}"
                workdir.mkdir()
                results[engine].append(relay._one_round(engine, node_red, broker.port, count, workdir))
                report_drops(engine, workdir)
    rows = relay.print_rounds(names, results, count)
    fe, nr = rows.get("flowengine", {}), rows.get("node-red", {})
    if "median" in fe:
        emit("function", "function relay msg/s (median)", fe["median"], "msg/s", baseline=nr.get("median"),
             baseline_name="Node-RED", higher=True)  # fmt: skip
        emit("function", "function relay CPU per message", fe["cpu"], "us", baseline=nr.get("cpu"),
             baseline_name="Node-RED")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engines", default="flowengine,node-red", help="comma-separated rows to run")
    args = parser.parse_args()
    main(args.messages, args.rounds, set(args.engines.split(",")))
