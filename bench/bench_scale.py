"""Scale inside one device: 16 custom groups of 256 keys and every timed reserved group at 1 s, smart reporting on.

    .venv/bin/python bench/bench_scale.py [--seconds 60] [--warmup 10]

One ``flowengine run --simulate`` process against a private mosquitto (``flexapi.request_max_bytes``
raised to 256 KiB: one ``group/set`` of 16 x 256 keys is about 100 KiB). First it idles with the
default settings (the baseline row, measured in the same run); then a platform client inserts
84 user data keys, sets 16 custom groups whose interest is every parameter of Appendix A plus
those user data keys (256 keys each), and sets the interval of every timed reserved group to
1 s. Smart reporting runs for ``summary`` (``REPORT``: distance and heading triggers, at most
one report a second, at least one a second), so the report node follows every GNSS, OBD and IO
value. Over the window the client counts the ``info`` uploads of every group.

Figures: the agent's CPU (% of one core), its RSS at the end, uploads per second, and the
publish lag: for each timed group, how late each upload arrived against that group's 1 s grid,
the grid placed at its earliest arrival (so the lag is the jitter the agent adds; p50 and p99
over every upload; ``summary`` reports when the vehicle's movement says, off any grid, and is
left out). Prints figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import paho.mqtt.client as mqtt  # noqa: E402
import psutil  # noqa: E402
from results import emit  # noqa: E402

from flowengine.testing import Mosquitto  # noqa: E402
from nodes.flexapi.groups import GROUPS  # noqa: E402
from nodes.flexapi.params import PARAMS  # noqa: E402

CLIENT_ID = "scale-bench"
ROOT_TOPIC = f"v1/{CLIENT_ID}"
CUSTOM_GROUPS = 16
KEYS_PER_GROUP = 256
#: Smart reporting of summary: triggers by distance and heading, at most and at least one report a second.
REPORT = {"max_interval": 1, "min_interval": 1, "distance": 10, "heading": 5}


class Platform:
    """Requests with their answers, and the arrival times of every info upload."""

    def __init__(self, port: int) -> None:
        self.answers: dict[str, dict[str, Any]] = {}
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.counting = False
        self._cond = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"platform-{uuid.uuid4().hex[:6]}")
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe([(f"{ROOT_TOPIC}/+/info", 0), (f"{ROOT_TOPIC}/+/+/resp", 1)])
        subscribed.wait(5)

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        if msg.topic.endswith("/info"):
            if self.counting:
                self.arrivals[msg.topic.split("/")[-2]].append(now)
            return
        body = json.loads(msg.payload)
        with self._cond:
            self.answers[body.get("client_token", "")] = body
            self._cond.notify_all()

    def request(self, path: str, body: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:
        """Send a request and wait for its answer, again while the agent answers device_busy."""
        deadline = time.monotonic() + timeout
        while True:
            token = uuid.uuid4().hex
            self.client.publish(f"{ROOT_TOPIC}/{path}", json.dumps({"client_token": token, **body}), qos=1)
            with self._cond:
                arrived = self._cond.wait_for(lambda t=token: t in self.answers, max(0.1, deadline - time.monotonic()))  # type: ignore[misc]
                if not arrived:
                    raise TimeoutError(f"no answer to {path}")
                answer = self.answers.pop(token)
            if answer.get("error") != "device_busy" or time.monotonic() > deadline:
                return answer
            time.sleep(1.05)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def configure(platform_client: Platform) -> None:
    params = [k for k, p in PARAMS.items() if not p.is_ts]
    extra = KEYS_PER_GROUP - len(params)
    userdata = {f"userdata.bench_{n:03d}": f"value {n}" for n in range(extra)}
    answer = platform_client.request("userdata/set", {"insert": userdata})
    assert "result" in answer, answer
    interest = {key: "" for key in [*params, *userdata]}
    settings = [{"group_name": f"scale{n:02d}", "interval": 1, "interest": interest} for n in range(CUSTOM_GROUPS)]
    answer = platform_client.request("group/set", {"settings": settings})
    assert "result" in answer, answer
    for name, group in GROUPS.items():
        if group.timed:
            answer = platform_client.request(f"{name}/set", {"interval": 1})
            assert "result" in answer, (name, answer)
    answer = platform_client.request("summary/set", {"report": REPORT})
    assert "result" in answer, answer


def lags(arrivals: dict[str, list[float]]) -> list[float]:
    """Lateness of each upload against its group's 1 s grid, placed at the group's earliest arrival."""
    late = []
    for times in arrivals.values():
        if len(times) < 2:
            continue
        start = times[0]
        offsets = [t - start - round(t - start) for t in times]
        phase = min(offsets)
        late += [o - phase for o in offsets]
    return late


def window(proc: psutil.Process, seconds: float) -> tuple[float, float]:
    """CPU % of one core over ``seconds`` and RSS (MB) at the end."""
    times = proc.cpu_times()
    before, started = times.user + times.system, time.monotonic()
    time.sleep(seconds)
    times = proc.cpu_times()
    return (times.user + times.system - before) / (time.monotonic() - started) * 100, proc.memory_info().rss / 1e6


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    args = parser.parse_args()
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp, Mosquitto(Path(tmp)) as broker:
        config = Path(tmp) / "device.toml"
        config.write_text("[flexapi]\nrequest_max_bytes = 262144\n")
        cmd = [sys.executable, "-m", "flowengine", "run", "--simulate", "--config", str(config), "--broker", broker.url,
               "--client-id", CLIENT_ID, "--state-dir", str(Path(tmp) / "state"), "--log-level", "warning"]  # fmt: skip
        with open(Path(tmp) / "agent.log", "wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            agent = psutil.Process(proc.pid)
            time.sleep(args.warmup)
            idle_cpu, idle_rss = window(agent, min(args.seconds, 30.0))
            client = Platform(broker.port)
            try:
                configure(client)
                time.sleep(args.warmup)
                client.counting = True
                cpu, rss = window(agent, args.seconds)
                client.counting = False
            finally:
                client.close()
        finally:
            proc.terminate()
            proc.wait(10)
    late = lags({group: times for group, times in client.arrivals.items() if group != "summary"})
    uploads = sum(len(t) for t in client.arrivals.values()) / args.seconds
    groups = len(client.arrivals)
    p50, p99 = percentile(late, 0.5) * 1000, percentile(late, 0.99) * 1000
    print(f"{'':<46}{'CPU':>9}{'RSS':>10}")
    print(f"{'idle, default settings (baseline)':<46}{idle_cpu:8.2f}%{idle_rss:8.1f} MB")
    print(f"{f'{groups} groups at 1 s ({CUSTOM_GROUPS}x{KEYS_PER_GROUP} keys, reporting)':<46}{cpu:8.2f}%{rss:8.1f} MB")
    print(f"uploads: {uploads:.1f}/s; publish lag p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    emit(
        "scale", f"{groups} groups at 1 s: CPU", cpu, "% of a core", baseline=idle_cpu, baseline_name="same agent idle"
    )
    emit("scale", f"{groups} groups at 1 s: RSS", rss, "MB", baseline=idle_rss, baseline_name="same agent idle")
    emit("scale", "publish lag p99", p99, "ms")
    emit("scale", "publish lag p50", p50, "ms")
    emit("scale", "uploads per second", uploads, "/s", higher=True)
    if statistics.fmean([len(t) for t in client.arrivals.values()] or [0]) < args.seconds * 0.9:
        print("warning: some groups uploaded less than once a second")


if __name__ == "__main__":
    main()
