"""Idle cost of the agent: CPU and RSS with the default flow and its default intervals, the simulator apart.

    .venv/bin/python bench/bench_idle.py [--seconds 60] [--warmup 10]

Each row is a process measured over the same window against one private mosquitto:

1. ``flowengine run --simulate``: the agent with its simulated devices in-process (the total);
2. the simulated devices in a process of their own (``python -m nodes.sources.sim.standalone``,
   the engine ECU on python-can's ``udp_multicast`` bus) and ``flowengine run --config
   DIR/device.toml`` reading them through its hardware backends: the agent alone, and the
   simulator alone;
3. Node-RED, idle with the relay flow (``tests/flowfiles/nodered_relay.json``, connected to the
   broker), when installed (``$NODE_RED``, ``bench/.node-red``, ``PATH``): the baseline.

CPU is the process's user + system time over the window, in % of one core; RSS is read at the
end of the window. Prints figures only.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import psutil  # noqa: E402
from bench_relay import FLOW, find_node_red  # noqa: E402
from procs import running  # noqa: E402
from results import emit  # noqa: E402

from flowengine.testing import Mosquitto, free_port  # noqa: E402

TARGET_CPU_PCT = 1.0
TARGET_RSS_MB = 40.0


def agent(port: int, work: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "flowengine", "run", "--broker", f"127.0.0.1:{port}", "--client-id", "idle-bench",
            "--state-dir", str(work / "state"), *extra]  # fmt: skip


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def measure(procs: dict[str, subprocess.Popen[bytes]], warmup: float, seconds: float) -> dict[str, tuple[float, float]]:
    """CPU % of one core over the window and RSS (MB) at its end, per process."""
    time.sleep(warmup)
    handles = {name: psutil.Process(p.pid) for name, p in procs.items()}
    for name, p in procs.items():
        if p.poll() is not None:
            raise RuntimeError(f"{name} exited with {p.returncode} (see its log)")
    before = {name: cpu_seconds(h) for name, h in handles.items()}
    started = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - started
    return {
        name: ((cpu_seconds(h) - before[name]) / wall * 100, h.memory_info().rss / 1e6) for name, h in handles.items()
    }


def in_process(port: int, work: Path, warmup: float, seconds: float) -> tuple[float, float]:
    with running(agent(port, work, "--simulate"), work / "agent.log") as proc:
        return measure({"agent": proc}, warmup, seconds)["agent"]


def split(port: int, work: Path, warmup: float, seconds: float) -> dict[str, tuple[float, float]]:
    devices = work / "devices"
    sim_cmd = [sys.executable, "-m", "nodes.sources.sim.standalone", str(devices), "--until-stdin-closes"]
    with running(sim_cmd, work / "simulator.log", stdin=subprocess.PIPE, cwd=ROOT) as sim:
        deadline = time.monotonic() + 30
        while not (devices / "device.toml").exists():
            if time.monotonic() > deadline or sim.poll() is not None:
                raise RuntimeError("the simulator did not start (see simulator.log)")
            time.sleep(0.1)
        with running(agent(port, work, "--config", str(devices / "device.toml")), work / "agent.log") as proc:
            return measure({"agent": proc, "simulator": sim}, warmup, seconds)


def node_red(binary: str, port: int, work: Path, warmup: float, seconds: float) -> tuple[float, float]:
    user_dir = work / "nr-user"
    user_dir.mkdir()
    shutil.copy(FLOW, user_dir / "flows.json")
    cmd = [binary, "--userDir", str(user_dir), "--port", str(free_port()), str(user_dir / "flows.json")]
    env = {**os.environ, "MQTT_PORT": str(port)}
    with running(cmd, work / "node-red.log", env=env, cwd=work) as proc:
        return measure({"node-red": proc}, warmup, seconds)["node-red"]


def row(name: str, cpu: float, rss: float) -> None:
    print(f"{name:<44} {cpu:8.2f} % {rss:8.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window per row")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds after launch before measuring")
    args = parser.parse_args()
    print(f"idle, default flow, default intervals, {args.seconds:g} s window after {args.warmup:g} s")
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp, Mosquitto(Path(tmp)) as broker:
        works = {name: Path(tmp) / name for name in ("inproc", "split", "nodered")}
        for work in works.values():
            work.mkdir()
        total = in_process(broker.port, works["inproc"], args.warmup, args.seconds)
        parts = split(broker.port, works["split"], args.warmup, args.seconds)
        binary = find_node_red()
        baseline = node_red(binary, broker.port, works["nodered"], args.warmup, args.seconds) if binary else None
    print(f"{'process':<44} {'CPU':>10} {'RSS':>11}")
    row("flowengine run --simulate (agent + simulator)", *total)
    row("agent alone (hardware backends)", *parts["agent"])
    row("simulator alone (separate process)", *parts["simulator"])
    if baseline is not None:
        row("Node-RED, idle relay flow", *baseline)
    else:
        print("Node-RED not installed: no baseline row")
    report(total, parts["agent"], baseline)


def report(total: tuple[float, float], alone: tuple[float, float], baseline: tuple[float, float] | None) -> None:
    base_cpu, base_rss = baseline if baseline is not None else (None, None)
    emit(
        "idle",
        "agent alone: idle CPU",
        alone[0],
        "% of a core",
        baseline=base_cpu,
        target=TARGET_CPU_PCT,
        baseline_name="Node-RED idle",
    )
    emit(
        "idle",
        "agent alone: idle RSS",
        alone[1],
        "MB",
        baseline=base_rss,
        target=TARGET_RSS_MB,
        baseline_name="Node-RED idle",
    )
    emit(
        "idle", "agent + simulator: idle CPU", total[0], "% of a core", baseline=base_cpu, baseline_name="Node-RED idle"
    )
    emit("idle", "agent + simulator: idle RSS", total[1], "MB", baseline=base_rss, baseline_name="Node-RED idle")


if __name__ == "__main__":
    main()
