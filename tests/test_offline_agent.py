"""The device agent through broker outages (real mosquitto stopped and restarted): zero info messages lost.

The platform is a paho client with a persistent session (clean_session=False, QoS 1) subscribed to
``v1/<cid>/+/info``; what it misses while the broker is down waits in mosquitto's persistence. What the
agent produced is read from its ``flowengine.mqtt.durable`` trace (one DEBUG line per durable message: how it
left, topic, payload digest). Every produced message must reach the platform, in order per topic;
duplicates are allowed (QoS 1 is at least once) and nothing may arrive that was not produced.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from agent_support import DurableTrace, parse_trace

from flowengine.agent import Agent
from flowengine.config import DeviceConfig
from flowengine.testing import Mosquitto, free_port, wait_until
from nodes.flexapi import configfile

pytestmark = pytest.mark.broker
REPO = Path(__file__).resolve().parents[1]
FAST_GROUPS = ("summary", "gnss", "obd", "io", "motion")
Messages = list[tuple[str, str]]  # (topic, payload digest)


def digest(payload: bytes) -> str:
    return hashlib.sha1(payload).hexdigest()[:16]


class Platform:
    """The third-party platform: a persistent session that stays subscribed to the device's infos."""

    def __init__(self, port: int, client_id: str) -> None:
        self.root = f"v1/{client_id}"
        self.received: Messages = []
        self.responses: dict[str, dict[str, Any]] = {}
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, f"platform-{client_id}", clean_session=False)
        self.client.reconnect_delay_set(0.1, 0.5)  # type: ignore[arg-type]  # floats work: it only sleeps
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self._subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe([(f"{self.root}/+/info", 1), (f"{self.root}/+/set/resp", 1)])
        assert self._subscribed.wait(5), "platform subscription not acknowledged"

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic.endswith("/info"):
            self.received.append((message.topic, digest(message.payload)))
        else:
            body = json.loads(message.payload)
            self.responses[body.get("client_token", "")] = body

    def set_interval(self, group: str, seconds: int, timeout: float = 10.0) -> None:
        """``{group}/set``, repeated until answered (the agent may still be subscribing)."""
        token = uuid.uuid4().hex
        deadline = time.monotonic() + timeout
        while token not in self.responses:
            assert time.monotonic() < deadline, f"no answer to {group}/set"
            body = json.dumps({"client_token": token, "interval": seconds})
            self.client.publish(f"{self.root}/{group}/set", body, qos=1).wait_for_publish(5)
            _wait_quietly(lambda: token in self.responses, 1.2)
        assert "result" in self.responses[token], self.responses[token]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _wait_quietly(predicate: Callable[[], bool], timeout: float) -> bool:
    try:
        return bool(wait_until(predicate, timeout))
    except AssertionError:
        return False


def lost(produced: list[tuple[str, str, str]], received: Messages) -> Messages:
    """Produced messages missing from ``received`` (per topic, in order: a subsequence check)."""
    missing: Messages = []
    for topic in {t for _, t, _ in produced}:
        got = iter(d for t, d in received if t == topic)
        missing += [(topic, d) for _, t, d in produced if t == topic and d not in got]
    return missing


def assert_zero_loss(produced: list[tuple[str, str, str]], platform: Platform) -> None:
    wait_until(lambda: not lost(produced, list(platform.received)), 15, what="every produced info delivered")
    assert set(platform.received) <= {(t, d) for _, t, d in produced}, "delivered something never produced"


class RunningAgent:
    """The real Agent on its own event loop thread; does not wait for the broker."""

    def __init__(self, config: DeviceConfig, agent_type: type[Agent] = Agent) -> None:
        self.agent = agent_type(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self.agent.run(),), daemon=True)
        self.thread.start()
        wait_until(lambda: self.agent.runtime is not None and "flexapi-out" in self.agent.runtime.nodes, 10, what="up")

    @property
    def link(self) -> Any:
        return self.agent.link

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.agent.stop)
        self.thread.join(15)
        assert not self.thread.is_alive(), "agent did not stop"
        self.loop.close()


def device(port: int, state_dir: Path, client_id: str, **mqtt: Any) -> DeviceConfig:
    return DeviceConfig.model_validate(
        {
            "mqtt": {"host": "127.0.0.1", "port": port, "client_id": client_id, **mqtt},
            "simulate": True,
            "state_dir": str(state_dir),
        }
    )


@pytest.fixture
def client_id() -> str:
    return f"dev-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def platform(own_broker: Mosquitto, client_id: str) -> Iterator[Platform]:
    p = Platform(own_broker.port, client_id)
    yield p
    p.close()


def stored_count(produced: Callable[[], list[tuple[str, str, str]]]) -> Callable[[], int]:
    return lambda: sum(1 for outcome, _, _ in produced() if outcome == "stored")


def fast_groups(platform: Platform) -> None:
    for group in FAST_GROUPS:
        platform.set_interval(group, 1)


@pytest.mark.slow
def test_broker_outage_loses_no_info(own_broker: Mosquitto, platform: Platform, tmp_path: Path, client_id: str):
    with DurableTrace() as trace:
        running = RunningAgent(device(own_broker.port, tmp_path / "state", client_id, offline_store=True))
        try:
            fast_groups(platform)
            own_broker.stop()
            wait_until(lambda: not running.link.connected, what="agent sees the broker go")
            wait_until(lambda: stored_count(trace.produced)() >= 2 * len(FAST_GROUPS), 10, what="infos on disk")
            own_broker.start()
            wait_until(lambda: running.link.offline_stats().waiting == 0, 15, what="store drained")
        finally:
            running.stop()
        assert_zero_loss(trace.produced(), platform)
    assert running.link.offline_stats().replayed >= 2 * len(FAST_GROUPS)


@pytest.mark.slow
def test_agent_restart_in_the_middle_of_an_outage_loses_no_info(
    own_broker: Mosquitto, platform: Platform, tmp_path: Path, client_id: str
) -> None:
    config = device(own_broker.port, tmp_path / "state", client_id, offline_store=True)
    with DurableTrace() as trace:
        running = RunningAgent(config)
        fast_groups(platform)
        own_broker.stop()
        wait_until(lambda: stored_count(trace.produced)() >= len(FAST_GROUPS), 10, what="infos on disk")
        running.stop()
        before = stored_count(trace.produced)()
        running = RunningAgent(config)  # the broker is still down: the agent runs its flows all the same
        try:
            wait_until(lambda: stored_count(trace.produced)() >= before + len(FAST_GROUPS), 10, what="more on disk")
            assert not running.link.connected
            own_broker.start()
            wait_until(lambda: running.link.offline_stats().waiting == 0, 15, what="store drained")
        finally:
            running.stop()
        assert_zero_loss(trace.produced(), platform)


@pytest.mark.slow
def test_agent_killed_in_the_middle_of_an_outage_loses_no_info(
    own_broker: Mosquitto, platform: Platform, tmp_path: Path, client_id: str
) -> None:
    state, logs = tmp_path / "state", [tmp_path / "agent-1.log", tmp_path / "agent-2.log"]

    def produced() -> list[tuple[str, str, str]]:
        return parse_trace("".join(log.read_text() for log in logs if log.exists()))

    first = spawn_agent(own_broker, client_id, state, logs[0])
    try:
        fast_groups(platform)
        own_broker.stop()
        wait_until(lambda: stored_count(produced)() >= len(FAST_GROUPS), 10, what="infos on disk")
    finally:
        first.kill()  # SIGKILL: no clean shutdown, nothing flushed
        first.wait(5)
    before = stored_count(produced)()
    second = spawn_agent(own_broker, client_id, state, logs[1])
    try:
        wait_until(lambda: stored_count(produced)() >= before + len(FAST_GROUPS), 15, what="more on disk")
        own_broker.start()
        wait_until(lambda: not lost(produced(), list(platform.received)), 20, what="backlog delivered")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(15)
    assert second.returncode == 0, logs[1].read_text()[-2000:]
    assert_zero_loss(produced(), platform)


def spawn_agent(broker: Mosquitto, client_id: str, state: Path, log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "flowengine", "run", "--simulate", "--offline-store", "--broker", broker.url]
    cmd += ["--client-id", client_id, "--state-dir", str(state), "--log-level", "debug"]
    with log.open("wb") as out:
        return subprocess.Popen(cmd, cwd=REPO, stderr=out, stdout=out)


class SmallQueueAgent(Agent):
    queue_limit = 3


def test_agent_runs_without_a_broker_and_connects_when_it_appears(tmp_path: Path, client_id: str) -> None:
    state, port = tmp_path / "state", free_port()
    seeded = configfile.export_config(state)
    for group in FAST_GROUPS:
        seeded["groups"][group]["interval"] = 1
    configfile.import_config(state, seeded)
    running = RunningAgent(device(port, state, client_id), SmallQueueAgent)
    try:
        wait_until(lambda: running.link.offline_stats().dropped >= 1, 10, what="memory queue full")
        stats = running.link.offline_stats()
        assert (stats.mode, stats.waiting) == ("memory", 3)
        with Mosquitto(tmp_path, port=port) as broker:
            wait_until(lambda: running.link.connected, 10, what="agent connects when the broker appears")
            platform = Platform(broker.port, client_id)
            try:
                platform.set_interval("gnss", 2)  # requests are served
                wait_until(lambda: any(t.endswith("/info") for t, _ in platform.received), 5, what="live infos")
            finally:
                platform.close()
            assert running.link.stats.published >= 3
    finally:
        running.stop()
