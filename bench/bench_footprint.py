"""Where the agent's memory goes: RSS and Python heap (tracemalloc) by module, then by running part.

    .venv/bin/python bench/bench_footprint.py [--seconds 15]

1. Imports, in a fresh interpreter, group by group in the order ``flowengine run --simulate``
   loads them: the RSS each group adds, and the Python heap it adds as tracemalloc counts it
   (measured in a second interpreter: tracemalloc's own bookkeeping would inflate the RSS);
   then what ``run`` does not import (networkx, sqlite3, watchdog), measured after the rest.
2. The running agent (``--simulate``, default flow, in-process, tracemalloc on from the start):
   after ``--seconds`` of idle, the heap allocated since start-up by the file that allocated it
   (the innermost frame outside importlib: modules imported while starting count as the code
   that ran their ``import``).

The baseline row is a bare interpreter that imports paho and connects: what any Python agent pays.
Prints figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from results import emit  # noqa: E402

#: Import groups, in the order the agent loads them.
GROUPS: list[tuple[str, list[str]]] = [
    ("asyncio (with ssl)", ["asyncio"]),
    ("pydantic", ["pydantic"]),
    ("paho-mqtt, orjson", ["paho.mqtt.client", "orjson"]),
    ("flowengine: config, plugins, MQTT link", ["flowengine.config", "flowengine.plugins", "flowengine.mqtt"]),
    ("flowengine: graph, runtime, reload, agent", ["flowengine.graph", "flowengine.runtime", "flowengine.agent"]),
    ("nodes.flexapi (the default flow's nodes)", ["nodes.flexapi.plugin", "nodes.flexapi.group_node",
     "nodes.flexapi.request_node", "nodes.flexapi.values_node", "nodes.flexapi.custom_group_node",
     "nodes.flexapi.userdata_node", "nodes.flexapi.app_node", "nodes.flexapi.io_control", "nodes.flexapi.in_node",
     "nodes.flexapi.out_node"]),
    ("nodes.sources: the seven node types", ["nodes.sources.plugin", "nodes.sources.gnss.node", "nodes.sources.obd.node",
     "nodes.sources.motion.node", "nodes.sources.io.node", "nodes.sources.cellular.node", "nodes.sources.onewire.node",
     "nodes.sources.sysinfo.node"]),
    ("drivers: pyserial, python-can, can-isotp, gpiozero", ["serial", "can", "isotp", "gpiozero",
     "nodes.sources.obd.client", "nodes.sources.io.board", "nodes.sources.cellular.port"]),
    ("simulator (--simulate only)", ["nodes.sources.sim.vehicle", "nodes.sources.sim.ecu",
     "nodes.sources.sim.gnss_device", "nodes.sources.sim.iio_device", "nodes.sources.io.sim_board",
     "nodes.sources.cellular.sim_modem", "nodes.sources.onewire.sim_bus"]),
]  # fmt: skip
#: Imports that ``run`` does not make (tests/test_cli_lazy.py checks it), measured after the others.
OFF_THE_RUN_PATH: list[tuple[str, list[str]]] = [
    ("networkx (validate and graph only)", ["networkx"]),
    ("sqlite3 (--offline-store only; python-can loads it too)", ["sqlite3"]),
    ("watchdog (--flows directories only)", ["watchdog.observers"]),
]

IMPORTS = """
import importlib, json, sys, tracemalloc
traced = sys.argv[1] == "heap"
if traced:
    tracemalloc.start()
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) * 1024
def heap():
    return tracemalloc.get_traced_memory()[0] if traced else 0
rows = [["interpreter", rss(), heap()]]
for name, modules in json.loads(sys.argv[2]):
    r, h = rss(), heap()
    for module in modules:
        importlib.import_module(module)
    rows.append([name, rss() - r, heap() - h])
print(json.dumps(rows))
"""

RUNNING = """
import asyncio, json, sys, tempfile, threading, time, tracemalloc
from pathlib import Path
tracemalloc.start(25)
from flowengine.agent import Agent
from flowengine.config import DeviceConfig
from flowengine.testing import Mosquitto
tmp = Path(tempfile.mkdtemp())
with Mosquitto(tmp) as broker:
    config = DeviceConfig.model_validate({"mqtt": {"host": "127.0.0.1", "port": broker.port, "client_id": "fp"},
                                          "simulate": True, "state_dir": str(tmp / "state")})
    agent = Agent(config)
    before = tracemalloc.take_snapshot()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(agent.run(),), daemon=True)
    thread.start()
    time.sleep(float(sys.argv[1]))
    after = tracemalloc.take_snapshot()
    loop.call_soon_threadsafe(agent.stop)
    thread.join(10)
by = {}
skip = ("<frozen", "importlib", "tracemalloc", "threading.py", "asyncio/")
for stat in after.compare_to(before, "traceback"):
    frame = next((f for f in reversed(stat.traceback) if not any(s in f.filename for s in skip)), stat.traceback[-1])
    name = frame.filename
    for marker in ("site-packages/", "/flowengine/", "/nodes/", "/lib/python3.11/", "/lib/python3.12/"):
        if marker in name:
            tail = name.split(marker, 1)[1]
            name = (marker.strip("/") + "/" if marker in ("/flowengine/", "/nodes/") else "") + tail
            break
    by[name] = by.get(name, 0) + stat.size_diff
print(json.dumps(sorted(by.items(), key=lambda kv: -kv[1])[:15]))
"""

BARE = """
import json, paho.mqtt.client as mqtt
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) * 1024
print(json.dumps(rss()))
"""


def child(script: str, *args: str) -> object:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="idle seconds of the running agent")
    args = parser.parse_args()
    print(f"machine: {platform.node()} {platform.machine()}, Python {platform.python_version()}")
    groups = json.dumps(GROUPS + OFF_THE_RUN_PATH)
    rss_rows = child(IMPORTS, "rss", groups)
    heap_rows = child(IMPORTS, "heap", groups)
    print(f"\n{'imports, in load order':<56} {'RSS MB':>8} {'heap MB':>8}")
    total = run_path = 0.0
    rows = list(zip(rss_rows, heap_rows, strict=True))  # type: ignore[call-overload]
    for i, ((name, rss, _), (_, _, heap)) in enumerate(rows):
        if i == len(GROUPS) + 1:
            print(f"{'total after the imports of run --simulate':<56} {total / 1e6:8.2f}")
            run_path = total
            print("not imported by run:")
        total += rss
        print(f"{name:<56} {rss / 1e6:8.2f} {heap / 1e6:8.2f}")
    print(f"{'total after every import':<56} {total / 1e6:8.2f}")
    bare = child(BARE)
    print(f"{'baseline: bare interpreter with paho':<56} {bare / 1e6:8.2f}")  # type: ignore[operator]
    print(f"\nrunning agent (--simulate), heap allocated in {args.seconds:g} s after start-up, by file:")
    running: list[tuple[str, int]] = child(RUNNING, str(args.seconds))  # type: ignore[assignment]
    for name, size in running:
        print(f"  {size / 1e6:7.3f} MB  {name}")
    bare_mb: float = bare / 1e6  # type: ignore[operator]
    emit("footprint", "RSS after the imports of run --simulate", run_path / 1e6, "MB", baseline=bare_mb,
         baseline_name="bare paho")  # fmt: skip


if __name__ == "__main__":
    main()
