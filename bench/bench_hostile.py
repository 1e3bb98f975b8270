"""sysinfo/refresh latency of the agent with and without a hostile user flow running, same run.

    .venv/bin/python bench/bench_hostile.py [--requests 100]

The hostile flow is the one of tests/test_hostile_flows.py: every Python, JSONata and
JavaScript runaway fed every 2 s, each stopped by its limit (worker killed and replaced).
Prints p50/p99/max of the refresh round trip, one request at a time, quiet agent first, then
under the hostile flow. The round trip is timed by a client of its own (QoS 0 request, an
event set by the response's callback), so nothing of the test helpers' waiting is in it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/results.py

from agent_support import Platform, RunningAgent, device
from results import emit
from test_hostile_flows import hostile_flow

from flowengine.testing import Mosquitto


class Requester:
    """Times one request's round trip: publish, then the callback of its response sets an event."""

    def __init__(self, port: int, root: str) -> None:
        self.root, self.answer, self.token = root, threading.Event(), ""
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"timer-{uuid.uuid4().hex[:8]}")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(f"{root}/sysinfo/refresh/resp", qos=0)
        time.sleep(0.5)  # the subscription is in place before the first request

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        answer = json.loads(message.payload)
        if answer.get("client_token") == self.token and "result" in answer:
            self.answer.set()

    def round_trip_ms(self) -> float:
        self.token = uuid.uuid4().hex
        self.answer.clear()
        started = time.perf_counter()
        self.client.publish(f"{self.root}/sysinfo/refresh", json.dumps({"client_token": self.token}), qos=0)
        if not self.answer.wait(10):
            raise RuntimeError("no result within 10 s")
        return (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def latencies(port: int, root: str, count: int) -> list[float]:
    requester = Requester(port, root)
    try:
        times = []
        for _ in range(count):
            times.append(requester.round_trip_ms())
            time.sleep(1.05)  # the agent's minimum retry interval per topic
        return times
    finally:
        requester.close()


def measure(broker: Mosquitto, work: Path, hostile: bool, count: int) -> list[float]:
    client_id = f"bench-{uuid.uuid4().hex[:8]}"
    flows = work / client_id
    flows.mkdir()
    if hostile:
        (flows / "hostile.json").write_text(json.dumps(hostile_flow(f"v1/{client_id}", repeat=2)))
    agent = RunningAgent(device(broker, work / f"{client_id}-state", client_id), [flows])
    platform = Platform(broker.port, f"v1/{client_id}").wait_ready()
    try:
        time.sleep(3 if hostile else 0)  # let the runaways start
        return latencies(broker.port, f"v1/{client_id}", count)
    finally:
        platform.close()
        agent.stop()


def describe(label: str, times: list[float]) -> str:
    cut = statistics.quantiles(times, n=100)
    return f"{label:28s} p50 {statistics.median(times):7.1f} ms  p99 {cut[98]:7.1f} ms  max {max(times):7.1f} ms"


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp)) as broker:
        quiet = measure(broker, Path(tmp), hostile=False, count=count)
        hostile = measure(broker, Path(tmp), hostile=True, count=count)
    print(f"sysinfo/refresh round trip, {count} requests each, one at a time")
    print(describe("quiet agent", quiet))
    print(describe("with the hostile flow", hostile))
    emit("hostile", "refresh p50 with a hostile flow", statistics.median(hostile), "ms",
         baseline=statistics.median(quiet), baseline_name="quiet agent")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    main(parser.parse_args().requests)
