"""Time from launching ``flowengine run --simulate`` to its first ``sysinfo/refresh`` answer.

    .venv/bin/python bench/bench_startup.py [--rounds 5]

A platform client (paho, subscribed to the response topic) sends a refresh every
20 ms from the moment the process is spawned until an answer arrives. The
baseline, measured in the same run the same way, is a bare Python process that
imports paho, connects and answers the same request: what any Python agent pays
before doing its own work. Target: the agent answers within 0.3 s of launch (an answer of
any kind counts: the request reached the agent and it answered). The sources are compiled to
bytecode first, as an installed package is.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt

from flowengine.testing import Mosquitto

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/results.py
from results import emit

TARGET_S = 0.3

ECHO = """
import json, sys, paho.mqtt.client as mqtt
port, cid = int(sys.argv[1]), sys.argv[2]
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="echo-" + cid)
def on_message(cl, ud, m):
    token = json.loads(m.payload).get("client_token")
    cl.publish(m.topic + "/resp", json.dumps({"client_token": token, "result": {"sysinfo.ts": 0}}), qos=1)
c.on_message = on_message
c.on_connect = lambda cl, *a: cl.subscribe(f"v1/{cid}/sysinfo/refresh", qos=1)
c.connect("127.0.0.1", port)
c.loop_forever()
"""


def time_to_first_answer(command: list[str], port: int, client_id: str) -> float:
    answered = threading.Event()
    platform = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"platform-{uuid.uuid4().hex[:6]}")
    platform.on_message = lambda *a: answered.set()
    platform.connect("127.0.0.1", port)
    platform.subscribe(f"v1/{client_id}/sysinfo/refresh/resp", qos=1)
    platform.loop_start()
    time.sleep(0.2)  # the subscription is in place before the clock starts
    start = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        n = 0
        while not answered.wait(0.02):
            n += 1
            platform.publish(f"v1/{client_id}/sysinfo/refresh", f'{{"client_token": "s{n}"}}', qos=0)
            if time.monotonic() - start > 30:
                raise TimeoutError("no answer within 30 s")
        return time.monotonic() - start
    finally:
        proc.terminate()
        proc.wait(10)
        platform.loop_stop()
        platform.disconnect()


def compile_bytecode() -> None:
    """Write the .pyc files first: the first launch is not measured compiling the sources."""
    root = Path(__file__).resolve().parent.parent
    packages = [str(root / name) for name in ("flowengine", "nodes", "flows") if (root / name).is_dir()]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], check=False, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    compile_bytecode()
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp)) as broker:
        agent_times, echo_times = [], []
        for i in range(args.rounds):
            cid = f"start{i}"
            state = Path(tmp) / f"state{i}"
            agent = [
                sys.executable,
                "-m",
                "flowengine",
                "run",
                "--simulate",
                "--broker",
                broker.url,
                "--client-id",
                cid,
                "--state-dir",
                str(state),
            ]
            agent_times.append(time_to_first_answer(agent, broker.port, cid))
            echo = [sys.executable, "-c", ECHO, str(broker.port), f"echo{i}"]
            echo_times.append(time_to_first_answer(echo, broker.port, f"echo{i}"))
    a, e = statistics.median(agent_times), statistics.median(echo_times)
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"{'':32}{'median s':>10}{'worst s':>10}")
    print(f"{'flowengine run --simulate':32}{a:10.3f}{max(agent_times):10.3f}")
    print(f"{'bare paho responder':32}{e:10.3f}{max(echo_times):10.3f}")
    print(f"agent / bare: {a / e:.2f}x   target: median <= {TARGET_S} s -> {'met' if a <= TARGET_S else 'NOT met'}")
    emit("startup", "launch to first answer (median)", a, "s", baseline=e, baseline_name="bare paho responder",
         target=TARGET_S)  # fmt: skip


if __name__ == "__main__":
    main()
