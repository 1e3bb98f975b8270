"""Simulated sources: vehicle model steps per second and the OBD poll cycle, each next to a baseline.

* Vehicle: ``Vehicle.state(t)`` integrates the whole model (route, powertrain, thermal,
  odometer) in 0.1 s steps; the baseline is a bare point-mass Euler step in the same
  interpreter, i.e. what any pure-Python model of one step costs at least.
* OBD: one poll cycle as the obd source runs it (every supported PID as a single frame,
  then every default manufacturer DID through ISO-TP / UDS 0x22), against the simulated
  ECU on python-can's ``virtual`` bus with no pacing gap. The baseline is a bare
  python-can request/response loop on the same kind of bus (a notifier answering each
  request at once), with the same number of requests.

Prints figures only. Usage: ``.venv/bin/python bench/bench_sources.py [--seconds S] [--cycles N]``
"""

from __future__ import annotations

import argparse
import math
import queue
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import can  # noqa: E402

from nodes.sources.obd.client import ObdClient  # noqa: E402
from nodes.sources.obd.dids import DEFAULT_DIDS  # noqa: E402
from nodes.sources.obd.node import wanted_pids  # noqa: E402
from nodes.sources.sim.ecu import SimulatedEcu  # noqa: E402
from nodes.sources.sim.vehicle import STEP, Vehicle  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from results import emit  # noqa: E402


def vehicle_steps_per_s(sim_seconds: float) -> float:
    vehicle = Vehicle()
    started = time.perf_counter()
    vehicle.state(sim_seconds)
    return sim_seconds / STEP / (time.perf_counter() - started)


def point_mass_steps_per_s(steps: int) -> float:
    """Baseline: position, speed and heading of a point mass, one Euler step at a time."""
    x = y = v = heading = 0.0
    started = time.perf_counter()
    for i in range(steps):
        accel = 0.5 * math.sin(i * 0.01)
        v = max(0.0, v + accel * STEP)
        heading += 0.1 * STEP
        x += v * math.cos(heading) * STEP
        y += v * math.sin(heading) * STEP
    return steps / (time.perf_counter() - started)


def obd_cycle_s(cycles: int) -> tuple[float, float, int, int]:
    """Median seconds of the PID part and the DID part of one poll cycle, and the numbers of PIDs and DIDs."""
    channel = "bench-obd"
    ecu = SimulatedEcu(Vehicle(), channel).start()
    client = ObdClient.open("virtual", channel, 500_000, timeout=0.2, gap=0.0)
    try:
        pids = wanted_pids(client.discover(), "since_clear")
        pid_times, did_times = [], []
        for _ in range(cycles):
            started = time.perf_counter()
            answered = [client.request(pid) for pid in pids]
            middle = time.perf_counter()
            replies = [client.read_did(spec.did) for spec in DEFAULT_DIDS.values()]
            pid_times.append(middle - started)
            did_times.append(time.perf_counter() - middle)
            assert all(a is not None for a in answered) and all(r is not None and r.data for r in replies)
        return statistics.median(pid_times), statistics.median(did_times), len(pids), len(DEFAULT_DIDS)
    finally:
        client.close()
        ecu.stop()


def bare_round_trips_s(requests: int, cycles: int) -> float:
    """Baseline: median seconds for ``requests`` request/response pairs on a bare virtual bus."""
    channel = "bench-bare"
    responder, requester = can.Bus(interface="virtual", channel=channel), can.Bus(interface="virtual", channel=channel)
    reply = can.Message(arbitration_id=0x7E8, data=b"\x03\x41\x0d\x32\x55\x55\x55\x55", is_extended_id=False)
    notifier = can.Notifier(responder, [lambda msg: responder.send(reply)], timeout=0.05)
    received: queue.Queue[can.Message] = queue.Queue()
    listener = can.Notifier(requester, [received.put], timeout=0.05)
    request = can.Message(arbitration_id=0x7DF, data=b"\x02\x01\x0d\x55\x55\x55\x55\x55", is_extended_id=False)
    try:
        times = []
        for _ in range(cycles):
            started = time.perf_counter()
            for _ in range(requests):
                requester.send(request)
                received.get(timeout=1.0)
            times.append(time.perf_counter() - started)
        return statistics.median(times)
    finally:
        notifier.stop()
        listener.stop()
        responder.shutdown()
        requester.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3600.0, help="simulated seconds of driving to integrate")
    parser.add_argument("--cycles", type=int, default=20, help="OBD poll cycles to time")
    args = parser.parse_args()

    model = vehicle_steps_per_s(args.seconds)
    bare = point_mass_steps_per_s(int(args.seconds / STEP))
    print(f"{'vehicle model':<34}{model:>12,.0f} steps/s  ({model * STEP:,.0f}x real time)")
    print(f"{'baseline: point-mass Euler step':<34}{bare:>12,.0f} steps/s  ratio model/baseline {model / bare:.3f}")

    pid_s, did_s, n_pids, n_dids = obd_cycle_s(args.cycles)
    cycle = pid_s + did_s
    baseline = bare_round_trips_s(n_pids + n_dids, args.cycles)
    print(f"{f'OBD cycle ({n_pids} PIDs + {n_dids} DIDs)':<34}{cycle * 1000:>12.2f} ms")
    print(f"{'  of which PIDs (single frames)':<34}{pid_s * 1000:>12.2f} ms      ({pid_s / n_pids * 1000:.2f} ms each)")
    print(
        f"{'  of which DIDs (ISO-TP, UDS 0x22)':<34}{did_s * 1000:>12.2f} ms      ({did_s / n_dids * 1000:.2f} ms each)"
    )
    print(
        f"{'baseline: bare virtual-bus loop':<34}{baseline * 1000:>12.2f} ms      ratio cycle/baseline {cycle / baseline:.1f}"
    )
    emit("sources", f"OBD poll cycle ({n_pids} PIDs + {n_dids} DIDs)", cycle * 1000, "ms", baseline=baseline * 1000,
         baseline_name="bare virtual-bus loop")  # fmt: skip
    emit("sources", "vehicle model", model, "steps/s", baseline=bare, baseline_name="point-mass Euler", higher=True)


if __name__ == "__main__":
    main()
