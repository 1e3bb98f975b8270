"""sysinfo/refresh latency of the agent with and without a hostile user flow running, same run.

    .venv/bin/python bench/bench_hostile.py [--requests 100]

The hostile flow is the one of tests/test_hostile_flows.py: every Python and JSONata runaway
fed every 2 s, each stopped by its limit (worker killed and replaced). Prints p50/p99/max of
the refresh round trip, one request at a time, quiet agent first, then under the hostile flow.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/results.py

from agent_support import Platform, RunningAgent, device
from results import emit
from test_hostile_flows import hostile_flow

from flowengine.testing import Mosquitto


def latencies(platform: Platform, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        assert "result" in platform.request("sysinfo/refresh", when_free=True)
        times.append((time.perf_counter() - started) * 1000)
        time.sleep(1.05)  # the agent's minimum retry interval per topic
    return times


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
        return latencies(platform, count)
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
