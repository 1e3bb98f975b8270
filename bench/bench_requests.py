"""Request round trips through mosquitto: the FlexAPI agent next to a bare paho echo responder.

    .venv/bin/python bench/bench_requests.py [--requests 250]

Both sides see the same sequence: refresh requests rotating over 25 topics
(16 custom groups + 9 reserved groups), one at a time, each topic asked at most
once per 1.05 s (the agent's minimum retry interval is the contract). Prints
p50/p99 of both and their ratio (target: agent p50 within 2x the bare responder).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from flowengine.agent import Agent
from flowengine.config import DeviceConfig
from flowengine.testing import Mosquitto

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/results.py
from results import emit

DEFAULT_FLOW = Path(__file__).resolve().parents[1] / "flows" / "default.json"
RESERVED = ["summary", "obd", "gnss", "motion", "io", "cellular1", "sysinfo", "1-wire", "app"]
CUSTOM = [f"bench{i}" for i in range(16)]
SPACING = 1.05


def fast_client(client_id: str) -> mqtt.Client:
    """A paho client with Nagle off (paho leaves it on; the agent's link turns it off too)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.on_socket_open = _no_delay
    return client


def _no_delay(client: Any, userdata: Any, sock: Any) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Requester:
    """A paho client that publishes a request and waits for the response with its token."""

    def __init__(self, port: int, resp_filter: str) -> None:
        self.waiting: dict[str, threading.Event] = {}
        self.client = fast_client(f"bench-{uuid.uuid4().hex[:6]}")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe(resp_filter, qos=1)
        done.wait(5)

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        event = self.waiting.get(json.loads(message.payload).get("client_token", ""))
        if event is not None:
            event.set()

    def round_trip(self, topic: str, body: dict[str, Any] | None = None) -> float:
        token = uuid.uuid4().hex
        event = self.waiting[token] = threading.Event()
        start = time.perf_counter()
        self.client.publish(topic, json.dumps({"client_token": token, **(body or {})}), qos=1)
        if not event.wait(10):
            raise TimeoutError(f"no response on {topic}/resp")
        del self.waiting[token]
        return time.perf_counter() - start

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def echo_responder(port: int, payload: bytes) -> mqtt.Client:
    """A bare paho responder: answers every ``bench/+/refresh`` with a canned response of the agent's size."""
    client = fast_client("bench-echo")

    def on_message(c: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        token = json.loads(message.payload)["client_token"]
        body = payload.replace(b"TOKEN", token.encode())
        c.publish(message.topic + "/resp", body, qos=1)

    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.loop_start()
    done = threading.Event()
    client.on_subscribe = lambda *a: done.set()
    client.subscribe("bench/+/refresh", qos=1)
    done.wait(5)
    return client


def paced(requester: Requester, topics: list[str], count: int) -> list[float]:
    """Round trips over ``topics`` in rotation; no topic is asked twice within SPACING seconds."""
    last: dict[str, float] = {}
    samples = []
    for index in range(count):
        topic = topics[index % len(topics)]
        wait = last.get(topic, 0.0) + SPACING - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        last[topic] = time.monotonic()
        samples.append(requester.round_trip(topic))
    return samples


def start_agent(port: int, state_dir: Path) -> tuple[Agent, asyncio.AbstractEventLoop, threading.Thread]:
    config = DeviceConfig.model_validate(
        {
            "mqtt": {"host": "127.0.0.1", "port": port, "client_id": "bench-dev"},
            "simulate": True,
            "state_dir": str(state_dir),
        }
    )
    agent = Agent(config, default_flow=False)
    agent.source.files = [DEFAULT_FLOW]
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(agent.run(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not (agent.runtime and "flexapi-out" in agent.runtime.nodes and agent.link and agent.link.connected):
        if time.monotonic() > deadline:
            raise TimeoutError("agent did not start")
        time.sleep(0.05)
    return agent, loop, thread


def figures(name: str, samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    print(f"{name:<28} n={len(samples):<5} p50={p50:7.2f} ms  p99={p99:7.2f} ms")
    return p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=250)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp), extra=["set_tcp_nodelay true"]) as broker:
        agent, loop, thread = start_agent(broker.port, Path(tmp) / "state")
        requester = Requester(broker.port, "v1/bench-dev/+/refresh/resp")
        try:
            time.sleep(2.0)  # let every simulated source report once
            interest = {"gnss.latitude": "lat", "obd.speed": "", "io.AI1": "ai1", "motion.ax": ""}
            settings = [{"group_name": name, "interval": 0, "interest": interest} for name in CUSTOM]
            requester.client.subscribe("v1/bench-dev/group/set/resp", qos=1)
            time.sleep(0.2)
            requester.round_trip("v1/bench-dev/group/set", {"settings": settings})
            topics = [f"v1/bench-dev/{g}/refresh" for g in CUSTOM + RESERVED]
            paced(requester, topics[:5], 5)  # warm up
            agent_samples = paced(requester, topics, args.requests)
        finally:
            requester.close()
            loop.call_soon_threadsafe(agent.stop)
            thread.join(10)
        canned = json.dumps(
            {"client_token": "TOKEN", "result": {"lat": 48.1, "obd.speed": 0, "ai1": 14.1, "motion.ax": 0.0}}
        )
        echo = echo_responder(broker.port, canned.encode())
        requester = Requester(broker.port, "bench/+/refresh/resp")
        try:
            bare_topics = [f"bench/{g}/refresh" for g in CUSTOM + RESERVED]
            paced(requester, bare_topics[:5], 5)
            bare_samples = paced(requester, bare_topics, args.requests)
        finally:
            requester.close()
            echo.loop_stop()
            echo.disconnect()
    bare = figures("bare paho echo responder", bare_samples)
    flex = figures("flowengine FlexAPI agent", agent_samples)
    print(
        f"agent/bare p50 ratio: {flex[0] / bare[0]:.2f}x (target <= 1.3x); p99 ratio: {flex[1] / bare[1]:.2f}x (<= 2x)"
    )
    emit(
        "requests",
        "refresh round trip p50",
        flex[0],
        "ms",
        baseline=bare[0],
        target_ratio=1.3,
        baseline_name="bare paho echo",
    )
    emit(
        "requests",
        "refresh round trip p99",
        flex[1],
        "ms",
        baseline=bare[1],
        target_ratio=2.0,
        baseline_name="bare paho echo",
    )


if __name__ == "__main__":
    main()
