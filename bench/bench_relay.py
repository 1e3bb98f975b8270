"""MQTT relay throughput: the Node-RED relay flow run by flowengine and, when installed, by Node-RED.

The flow file is ``tests/flowfiles/nodered_relay.json`` (mqtt in -> change -> switch
-> mqtt out, QoS 1), exactly as Node-RED exports it. Both engines run it as a
separate process against the same private mosquitto; a paho publisher and a paho
subscriber in this process measure messages per second end to end. A
``broker only`` row (the subscriber listens to the input topic directly) shows
what the publisher, mosquitto and the subscriber manage without any engine.
Rounds alternate between the rows, each with a freshly started engine and a
warm-up, so a change of load on a shared machine hits every row alike; the last
line gives flowengine's figures as a ratio of Node-RED's.

``--rss-messages N`` (default 150,000) adds one more round per engine that relays N messages
through a fresh process and reads its RSS afterwards.

Node-RED is looked for in ``$NODE_RED``, ``bench/.node-red/node_modules/.bin/node-red``
(``npm install --prefix bench/.node-red node-red``) and on ``PATH``.
Prints figures only. Usage: ``.venv/bin/python bench/bench_relay.py [--messages N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import paho.mqtt.client as mqtt  # noqa: E402
import psutil  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from procs import running  # noqa: E402
from results import emit  # noqa: E402

from flowengine.testing import Mosquitto, free_port  # noqa: E402

FLOW = ROOT / "tests" / "flowfiles" / "nodered_relay.json"
IN_TOPIC, OUT_TOPIC = "relay/in/bench", "relay/out"
#: Messages relayed before each measured round (a fresh engine process per round: JIT, caches).
WARM_UP = 5000


class Counter:
    """A paho subscriber in its own process (no GIL shared with the publisher) that counts messages.

    Commands over a pipe: ``expect N`` resets the count; the answer comes when N
    messages arrived (or ``timeout`` passed) as (count, monotonic time of the last).
    """

    def __init__(self, port: int, topic: str) -> None:
        self._conn, child = multiprocessing.Pipe()
        self._proc = multiprocessing.Process(target=_count_messages, args=(port, topic, child), daemon=True)
        self._proc.start()
        if not self._conn.poll(10) or self._conn.recv() != "ready":
            raise RuntimeError("subscriber process did not start")

    def expect(self, count: int, timeout: float) -> None:
        self._conn.send((count, timeout))

    def answered(self) -> bool:
        return self._conn.poll(0)

    def result(self) -> tuple[int, float]:
        return self._conn.recv()  # type: ignore[no-any-return]

    def close(self) -> None:
        self._conn.send(None)
        self._proc.join(5)


def _count_messages(port: int, topic: str, conn: Any) -> None:
    state = {"count": 0, "last": 0.0, "expected": 1 << 62}
    done = threading.Event()

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        state["count"] += 1
        state["last"] = time.monotonic()
        if state["count"] >= state["expected"]:
            done.set()

    client = _client("bench-sub")
    client.on_message = on_message
    subscribed = threading.Event()
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect("127.0.0.1", port, 60)
    client.loop_start()
    client.subscribe(topic, 1)
    subscribed.wait(10)
    conn.send("ready")
    while (command := conn.recv()) is not None:
        count, timeout = command
        state.update(count=0, expected=count)
        done.clear()
        done.wait(timeout)
        conn.send((state["count"], state["last"]))
    client.disconnect()
    client.loop_stop()


class Publisher:
    """A paho publisher that writes straight to its socket (no network thread), reading PUBACKs as it goes."""

    def __init__(self, port: int) -> None:
        self.client = _client("bench-pub")
        self.client.max_inflight_messages_set(0)  # unlimited: the broker paces us through TCP
        self.client.connect("127.0.0.1", port, 60)
        while not self.client.is_connected():
            self.client.loop(0.1)
        self.payloads = [json.dumps({"n": n, "text": "telemetry"}).encode() for n in range(1000)]

    def send(self, count: int) -> None:
        publish, loop = self.client.publish, self.client.loop
        for n in range(count):
            publish(IN_TOPIC, self.payloads[n % 1000], 1)
            if n % 64 == 63:
                loop(0)

    def settle(self, seconds: float) -> None:
        """Keep reading acknowledgements for a while."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.client.loop(0.05)

    def close(self) -> None:
        self.client.disconnect()


def _client(client_id: str) -> mqtt.Client:
    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)


def wait_ready(pub: Publisher, sub: Counter, timeout: float = 60.0) -> bool:
    """Probe until the engine relays, then let stragglers drain."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sub.expect(1, 0.5)
        pub.send(1)
        pub.settle(0.05)
        if sub.result()[0] >= 1:
            while True:  # quiet for 0.5 s: every probe is through
                sub.expect(1 << 62, 0.5)
                pub.settle(0.5)
                if sub.result()[0] == 0:
                    return True
    return False


def measure(pub: Publisher, sub: Counter, count: int) -> tuple[float, int]:
    """Messages per second from the first publish to the last relayed message."""
    sub.expect(count, 120)
    time.sleep(0.05)  # the subscriber has reset its count
    start = time.monotonic()
    pub.send(count)
    received, last = _collect(pub, sub)
    return received / max(1e-9, last - start), received


def _collect(pub: Publisher, sub: Counter) -> tuple[int, float]:
    """Read acks until the subscriber answers."""
    while not sub.answered():
        pub.client.loop(0.01)
    return sub.result()


@contextmanager
def flowengine_process(port: int, workdir: Path, fast_path: bool = True) -> Iterator[subprocess.Popen[bytes]]:
    flows = workdir / "fe-flows"
    flows.mkdir()
    shutil.copy(FLOW, flows / FLOW.name)
    config = workdir / "device.toml"
    config.write_text('[flows]\nenv = ["MQTT_PORT"]\n')  # the flow's broker port: flows read only allowed variables
    cmd = [
        sys.executable,
        "-m",
        "flowengine",
        "run",
        "--no-default-flow",
        "--flows",
        str(flows),
        "--config",
        str(config),
    ]
    if os.environ.get("BENCH_PROFILE"):  # write a cProfile of the flowengine process to this file
        cmd[1:1] = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]]
    cmd += ["--broker", f"127.0.0.1:{port}", "--state-dir", str(workdir / "fe-state"), "--log-level", "warning"]
    extra = {} if fast_path else {"FLOWENGINE_MQTT_FAST_PATH": "off"}  # paho's public API only
    with _process(cmd, workdir / "flowengine.log", cwd=workdir, extra_env=extra) as proc:
        yield proc


@contextmanager
def node_red_process(binary: str, port: int, workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    user_dir = workdir / "nr-user"
    user_dir.mkdir()
    shutil.copy(FLOW, user_dir / "flows.json")
    cmd = [binary, "--userDir", str(user_dir), "--port", str(free_port()), str(user_dir / "flows.json")]
    with _process(cmd, workdir / "node-red.log", cwd=workdir) as proc:
        yield proc


@contextmanager
def _process(
    cmd: list[str], log: Path, cwd: Path, extra_env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "MQTT_PORT": os.environ["MQTT_PORT"], **(extra_env or {})}
    with running(cmd, log, cwd=cwd, env=env) as proc:
        yield proc


def find_node_red() -> str | None:
    local = ROOT / "bench" / ".node-red" / "node_modules" / ".bin" / "node-red"
    for candidate in (os.environ.get("NODE_RED"), str(local), shutil.which("node-red")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def run_round(name: str, port: int, count: int, topic: str, proc: Any = None) -> dict[str, Any]:
    """One measured round against a freshly started engine (after a warm-up round)."""
    pub, sub = Publisher(port), Counter(port, topic)
    try:
        if proc is not None and not wait_ready(pub, sub):
            return {"error": "never relayed (see its log)"}
        measure(pub, sub, min(count, WARM_UP))
        cpu_before = _cpu_seconds(proc)
        rate, received = measure(pub, sub, count)
        cpu = (_cpu_seconds(proc) - cpu_before) / count * 1e6
    finally:
        pub.close()
        sub.close()
    return {"rate": rate, "received": received, "cpu": cpu}


def summarise(name: str, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    failed = [r for r in rounds if "error" in r]
    if failed:
        return {"name": name, "error": failed[0]["error"]}
    rates = [r["rate"] for r in rounds]
    return {
        "name": name,
        "median": statistics.median(rates),
        "best": max(rates),
        "received": min(r["received"] for r in rounds),
        "cpu": statistics.median(r["cpu"] for r in rounds),
    }


def _cpu_seconds(proc: subprocess.Popen[bytes] | None) -> float:
    """CPU seconds (user + system) the engine process has used (0 without one)."""
    if proc is None:
        return 0.0
    times = psutil.Process(proc.pid).cpu_times()
    return float(times.user + times.system)


def print_row(row: dict[str, Any], count: int) -> None:
    if "error" in row:
        print(f"{row['name']:<16} {row['error']}")
        return
    cpu = f"{row['cpu']:>10.0f}" if row["cpu"] else f"{'-':>10}"
    print(f"{row['name']:<16} {row['median']:>10,.0f} {row['best']:>10,.0f} {cpu}   {row['received']:,}/{count:,}")


def rss_round(engine: str, node_red: str | None, port: int, count: int, workdir: Path) -> float | None:
    """RSS (MB) of a fresh engine process after it relayed ``count`` messages (None when it failed)."""
    opened = (
        flowengine_process(port, workdir) if engine == "flowengine" else node_red_process(node_red or "", port, workdir)
    )
    with opened as proc:
        pub, sub = Publisher(port), Counter(port, OUT_TOPIC)
        try:
            if not wait_ready(pub, sub):
                return None
            for chunk in range(0, count, WARM_UP):
                measure(pub, sub, min(WARM_UP, count - chunk))
            return float(psutil.Process(proc.pid).memory_info().rss) / 1e6
        finally:
            pub.close()
            sub.close()


def main(count: int, rounds: int, engines: set[str], rss_messages: int = 0) -> None:
    print(f"relay flow {FLOW.name}: {count:,} QoS 1 messages x {rounds} rounds, engines alternating per round")
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    node_red = find_node_red()
    if "node-red" in engines and node_red is None:
        print("node-red         not installed (npm install --prefix bench/.node-red node-red)")
        engines = engines - {"node-red"}
    names = {"broker": "broker only", "flowengine": "flowengine", "flowengine-public": "flowengine (public API)"}
    if node_red is not None:
        names["node-red"] = f"node-red {_node_red_version(node_red)}"
    order = [e for e in ("broker", "flowengine", "flowengine-public", "node-red") if e in engines]
    results: dict[str, list[dict[str, Any]]] = {e: [] for e in order}
    with tempfile.TemporaryDirectory(prefix="bench-relay-") as tmp, Mosquitto(Path(tmp)) as broker:
        os.environ["MQTT_PORT"] = str(broker.port)
        for n in range(rounds):  # alternating: a load change on the machine hits every engine alike
            for engine in order:
                workdir = Path(tmp) / f"{engine}-{n}"
                workdir.mkdir()
                results[engine].append(_one_round(engine, node_red, broker.port, count, workdir))
    rows = print_rounds(names, results, count)
    fe, nr = rows.get("flowengine", {}), rows.get("node-red", {})
    rss = rss_rows(node_red, engines, rss_messages) if rss_messages else {}
    report(fe, nr, rss, rss_messages)


def print_rounds(names: dict[str, str], results: dict[str, list[dict[str, Any]]], count: int) -> dict[str, Any]:
    """Print each engine's summary and rounds, and flowengine against Node-RED; returns the summaries."""
    print(f"{'engine':<16} {'median/s':>10} {'best/s':>10} {'CPU us/msg':>10}   received")
    rows = {e: summarise(names[e], results[e]) for e in results}
    for row in rows.values():
        print_row(row, count)
    for engine in results:
        rates = ", ".join(f"{r['rate']:,.0f}" for r in results[engine] if "rate" in r)
        print(f"  {names[engine]} rounds: {rates}")
    fe, nr = rows.get("flowengine", {}), rows.get("node-red", {})
    if "median" in fe and "median" in nr:
        print(f"flowengine / node-red: {fe['median'] / nr['median']:.2f} (median msg/s), "
              f"{fe['cpu'] / nr['cpu']:.2f} (CPU per message)")  # fmt: skip
    return rows


def rss_rows(node_red: str | None, engines: set[str], count: int) -> dict[str, float | None]:
    found: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory(prefix="bench-relay-rss-") as tmp, Mosquitto(Path(tmp)) as broker:
        os.environ["MQTT_PORT"] = str(broker.port)
        for engine in ("flowengine", "node-red"):
            if engine in engines and (engine == "flowengine" or node_red):
                workdir = Path(tmp) / engine
                workdir.mkdir()
                found[engine] = rss_round(engine, node_red, broker.port, count, workdir)
    for engine, value in found.items():
        print(f"RSS after relaying {count:,} messages, {engine}: " + (f"{value:.1f} MB" if value else "failed"))
    return found


def report(fe: dict[str, Any], nr: dict[str, Any], rss: dict[str, float | None], count: int) -> None:
    if "median" in fe:
        emit(
            "relay",
            "relay msg/s (median)",
            fe["median"],
            "msg/s",
            baseline=nr.get("median"),
            higher=True,
            baseline_name="Node-RED",
        )
        emit(
            "relay",
            "relay CPU per message",
            fe["cpu"],
            "us",
            baseline=nr.get("cpu"),
            target_ratio=0.7,
            baseline_name="Node-RED",
        )
    if rss.get("flowengine"):
        emit("relay", f"RSS after {count // 1000}k messages", rss["flowengine"], "MB",  # type: ignore[arg-type]
             baseline=rss.get("node-red"), target_ratio=0.3, baseline_name="Node-RED")  # fmt: skip


def _one_round(engine: str, node_red: str | None, port: int, count: int, workdir: Path) -> dict[str, Any]:
    if engine == "broker":
        return run_round("broker only", port, count, IN_TOPIC)
    if engine in ("flowengine", "flowengine-public"):
        with flowengine_process(port, workdir, fast_path=engine == "flowengine") as proc:
            return run_round(engine, port, count, OUT_TOPIC, proc)
    assert node_red is not None
    with node_red_process(node_red, port, workdir) as proc:
        return run_round(engine, port, count, OUT_TOPIC, proc)


def _node_red_version(binary: str) -> str:
    package = Path(binary).resolve().parent / "package.json"
    try:
        return str(json.loads(package.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return ""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--engines",
        default="broker,flowengine,flowengine-public,node-red",
        help="comma-separated rows: broker, flowengine, flowengine-public (paho's public API only), node-red",
    )
    parser.add_argument("--rss-messages", type=int, default=150_000, help="messages before reading RSS (0: skip)")
    args = parser.parse_args()
    main(args.messages, args.rounds, set(args.engines.split(",")), args.rss_messages)
