#!/usr/bin/env python3
"""Record what real Node-RED sends for each differential case (writes each case's expected.json).

    NODE_RED=/path/to/node_modules/.bin/node-red .venv/bin/python scripts/record_nodered.py [case ...]

Needs Node.js with Node-RED 4 (``npm install --prefix bench/.node-red node-red@4`` puts it at
``bench/.node-red/node_modules/.bin/node-red``, the default) and mosquitto. All cases load
into one Node-RED, one tab each: an ``mqtt in`` feeds a function that turns the received JSON
into the message for the case's entry node, and every ``debug`` node becomes a function that
publishes the compared fields of what reaches it. Inputs are sent with their ``after_ms``
spacing in real time; after ``settle_ms`` the recordings are written. Exits non-zero when a
case produced no message at all. See tests/nodered/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from nodered.kit import CASES, Case, all_cases, canonical, load_case  # noqa: E402

from flowengine.testing import Mosquitto, free_port, wait_for_port  # noqa: E402

BROKER_ID = "recorder-broker"
PREFIX = "nrtest"
#: Turns the JSON an mqtt in received into the case's message (Buffers revived).
ENTRY_FUNC = """
function revive(v) {
    if (v && typeof v === "object") {
        if (v.type === "Buffer" && Array.isArray(v.data) && Object.keys(v).length === 2) { return Buffer.from(v.data); }
        for (const k of Object.keys(v)) { v[k] = revive(v[k]); }
    }
    return v;
}
return revive(msg.payload);
"""
#: Publishes the compared fields of what reached a debug node.
DEBUG_FUNC = """
const out = {};
for (const f of %s) {
    let v;
    try { v = RED.util.getMessageProperty(msg, f); } catch (e) { v = undefined; }
    if (v !== undefined) { out[f] = v; }
}
return {payload: JSON.stringify(out)};
"""
PROBE_TOPIC = f"{PREFIX}/_probe"
#: Cases start this many seconds apart, so Node-RED is never handed every first message at once.
STAGGER = 0.15
#: Seconds a message may take through MQTT and Node-RED and still count for its case.
GRACE = 0.4


def node_red_command() -> list[str]:
    found = os.environ.get("NODE_RED") or str(ROOT / "bench/.node-red/node_modules/.bin/node-red")
    if not Path(found).exists():
        sys.exit(f"record_nodered: Node-RED not found at {found}; set NODE_RED to its bin/node-red")
    return [found]


def recording_flow(cases: list[Case], port: int) -> list[dict[str, Any]]:
    """Every case's nodes, debug nodes swapped for publishers, plus an MQTT entry per case."""
    nodes: list[dict[str, Any]] = [_broker(port), *_probe()]
    for case in cases:
        tab = case.tab
        for node in case.flow:
            nodes.extend(_publisher(case, node) if node.get("type") == "debug" else [node])
        nodes.append(_mqtt_in(f"{case.name}:in", tab, f"{PREFIX}/{case.name}/in", f"{case.name}:entry"))
        nodes.append(_function(f"{case.name}:entry", tab, ENTRY_FUNC, [[case.entry]]))
    return nodes


def _broker(port: int) -> dict[str, Any]:
    return {
        "id": BROKER_ID,
        "type": "mqtt-broker",
        "name": "recorder",
        "broker": "127.0.0.1",
        "port": str(port),
        "clientid": "",
        "autoConnect": True,
        "usetls": False,
        "protocolVersion": "4",
        "keepalive": "60",
        "cleansession": True,
    }


def _probe() -> list[dict[str, Any]]:
    return [
        {"id": "probe-tab", "type": "tab", "label": "probe"},
        _mqtt_in("probe-in", "probe-tab", f"{PROBE_TOPIC}/in", "probe-out"),
        _mqtt_out("probe-out", "probe-tab", f"{PROBE_TOPIC}/out"),
    ]


def _publisher(case: Case, debug: dict[str, Any]) -> list[dict[str, Any]]:
    out_id = f"{debug['id']}:out"
    func = _function(debug["id"], debug["z"], DEBUG_FUNC % json.dumps(case.compare), [[out_id]])
    return [func, _mqtt_out(out_id, debug["z"], f"{PREFIX}/{case.name}/out/{debug['id']}")]


def _mqtt_in(node_id: str, tab: str, topic: str, target: str) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "mqtt in",
        "z": tab,
        "topic": topic,
        "qos": "1",
        "datatype": "json",
        "broker": BROKER_ID,
        "nl": False,
        "rap": True,
        "rh": 0,
        "inputs": 0,
        "wires": [[target]],
    }


def _mqtt_out(node_id: str, tab: str, topic: str) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "mqtt out",
        "z": tab,
        "topic": topic,
        "qos": "1",
        "retain": "false",
        "broker": BROKER_ID,
        "wires": [],
    }


def _function(node_id: str, tab: str, code: str, wires: list[list[str]]) -> dict[str, Any]:
    return {"id": node_id, "type": "function", "z": tab, "func": code, "outputs": 1, "wires": wires}


class Recorder:
    """The MQTT side: sends each case's inputs on schedule and collects what comes back."""

    def __init__(self, port: int) -> None:
        self.received: dict[str, dict[str, list[Any]]] = {}
        self.windows: dict[str, tuple[float, float]] = {}
        self.probed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"recorder-{os.getpid()}")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{PREFIX}/#", qos=1)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        match = re.fullmatch(rf"{PREFIX}/(.+)/out/(.+)", message.topic)
        if message.topic == f"{PROBE_TOPIC}/out":
            self.probed.set()
        elif match:
            case, debug = match.groups()
            start, deadline = self.windows.get(case, (0.0, 0.0))
            if start <= time.monotonic() <= deadline + GRACE:
                self.received.setdefault(case, {}).setdefault(debug, []).append(json.loads(message.payload))

    def wait_ready(self, timeout: float = 60) -> None:
        """Until Node-RED's mqtt in nodes answer (a probe comes back)."""
        deadline = time.monotonic() + timeout
        while not self.probed.is_set():
            if time.monotonic() > deadline:
                sys.exit("record_nodered: Node-RED never answered the probe")
            self.client.publish(f"{PROBE_TOPIC}/in", "{}", qos=1)
            self.probed.wait(0.3)
        time.sleep(1.0)  # every other subscription went out in the same connect

    def play(self, cases: list[Case]) -> None:
        """Send every case's inputs on one timeline (each input ``after_ms`` after the previous one)."""
        events = []
        for number, case in enumerate(cases):
            at = number * STAGGER
            for step in case.inputs:
                at += step.get("after_ms", 0) / 1000
                events.append((at, len(events), case.name, step["msg"]))
        start = time.monotonic()
        for number, case in enumerate(cases):  # before its start interval timers may have sent; after, they go on
            end = sum(s.get("after_ms", 0) for s in case.inputs) + case.settle_ms
            self.windows[case.name] = (start + number * STAGGER, start + number * STAGGER + end / 1000)
        for at, _, name, msg in sorted(events):
            time.sleep(max(0.0, start + at - time.monotonic()))
            self.client.publish(f"{PREFIX}/{name}/in", json.dumps(msg), qos=1)
        time.sleep(max(0.0, max(end for _, end in self.windows.values()) + GRACE + 0.1 - time.monotonic()))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def node_red_version(command: list[str]) -> str:
    package = Path(command[0]).resolve().parent / "package.json"  # .bin/node-red links to node-red/red.js
    return str(json.loads(package.read_text())["version"]) if package.exists() else "4"


def start_node_red(command: list[str], workdir: Path, flows: list[dict[str, Any]]) -> subprocess.Popen[bytes]:
    (workdir / "flows.json").write_text(json.dumps(flows, indent=1))
    port = free_port()
    log = open(workdir / "node-red.log", "wb")  # noqa: SIM115 (owned by the process)
    proc = subprocess.Popen(
        [*command, "--userDir", str(workdir), "--port", str(port), str(workdir / "flows.json")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_for_port(port, timeout=60, proc=proc)
    return proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", help="case names (default: every case)")
    args = parser.parse_args()
    cases = [load_case(CASES / name) for name in args.cases] if args.cases else all_cases()
    command = node_red_command()
    version = node_red_version(command)
    with tempfile.TemporaryDirectory(prefix="record-nodered-") as tmp, Mosquitto(Path(tmp)) as broker:
        proc = start_node_red(command, Path(tmp), recording_flow(cases, broker.port))
        recorder = Recorder(broker.port)
        try:
            recorder.wait_ready()
            recorder.play(cases)
        finally:
            recorder.close()
            proc.terminate()
            proc.wait(10)
        return write_recordings(cases, recorder.received, version, Path(tmp) / "node-red.log")


def write_recordings(cases: list[Case], received: dict[str, dict[str, list[Any]]], version: str, log: Path) -> int:
    failed = []
    for case in cases:
        outputs = canonical(received.get(case.name, {}))
        (case.path / "expected.json").write_text(json.dumps({"node-red": version, "outputs": outputs}, indent=1) + "\n")
        counts = ", ".join(f"{debug}: {len(msgs)}" for debug, msgs in outputs.items()) or "NOTHING"
        print(f"{case.name:40} {counts}")
        if not outputs:
            failed.append(case.name)
    if failed:
        print(f"\n{len(failed)} case(s) produced nothing: {', '.join(failed)} (Node-RED log: {log})", file=sys.stderr)
        print(log.read_text()[-4000:], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
