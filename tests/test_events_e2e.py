"""Events, forward data and smart reporting end to end over a real mosquitto.

Events and forward data come from a user flow beside the default flow (inject nodes
wired into ``flexapi-event`` and ``flexapi-forward``), the way an integrator raises
their own event types and hands over app data; the outage test checks that every
notice and forward report the agent produced reaches a platform with a persistent
session, with ``--offline-store`` and the broker stopped in between.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from agent_support import DurableTrace, Platform, RunningAgent

from flowengine.agent import Agent
from flowengine.config import DeviceConfig
from flowengine.testing import Mosquitto, wait_until

pytestmark = pytest.mark.broker
FULL_REPORT = {"max_interval": 1, "min_interval": 0, "distance": 0, "heading": 0, "stationary_interval": 1}


def user_flow(directory: Path) -> Path:
    """A user flow raising an event and handing over app data four times a second."""
    directory.mkdir()
    nodes = [
        {"id": "tab_e2e", "type": "tab", "label": "events and forward data"},
        {
            "id": "tick_event",
            "type": "inject",
            "z": "tab_e2e",
            "topic": "event",
            "payloadType": "date",
            "repeat": 0.25,
            "once": True,
            "wires": [["event_body"]],
        },
        {
            "id": "event_body",
            "type": "template",
            "z": "tab_e2e",
            "template": '{"type": "E2E_TICK", "level": 2, "at": {{payload}}}',
            "output": "json",
            "wires": [["flexapi-event"]],
        },
        {
            "id": "tick_forward",
            "type": "inject",
            "z": "tab_e2e",
            "topic": "forward/bt",
            "payloadType": "date",
            "repeat": 0.25,
            "once": True,
            "wires": [["flexapi-forward"]],
        },
    ]
    (directory / "user.json").write_text(json.dumps(nodes))
    return directory


class Subscriber:
    """The platform with a persistent session on the device's event and forward topics (QoS 1)."""

    def __init__(self, port: int, root: str) -> None:
        self.received: list[tuple[str, bytes]] = []
        subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, f"platform-{uuid.uuid4().hex[:8]}", clean_session=False
        )
        self.client.reconnect_delay_set(0.1, 0.5)  # type: ignore[arg-type]  # floats work: it only sleeps
        self.client.on_message = lambda c, u, m: self.received.append((m.topic, m.payload))
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe([(f"{root}/event/notice", 1), (f"{root}/forward/info", 1)])
        assert subscribed.wait(5), "platform subscription not acknowledged"

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def missing(produced: list[tuple[str, str, str]], received: list[str]) -> list[str]:
    """Produced digests not received, in order (duplicates received are fine: QoS 1)."""
    got = iter(received)
    return [digest for _, _, digest in produced if digest not in got]


def digests(platform: Subscriber, suffix: str) -> list[str]:
    import hashlib

    return [hashlib.sha1(p).hexdigest()[:16] for t, p in list(platform.received) if t.endswith(suffix)]


@pytest.fixture
def subscriber(own_broker: Mosquitto, client_id: str) -> Iterator[Subscriber]:
    s = Subscriber(own_broker.port, f"v1/{client_id}")
    yield s
    s.close()


@pytest.mark.slow
def test_events_and_forward_data_survive_a_broker_outage(
    own_broker: Mosquitto, subscriber: Subscriber, tmp_path: Path, client_id: str
) -> None:
    mqtt_settings = {"host": "127.0.0.1", "port": own_broker.port, "client_id": client_id, "offline_store": True}
    config = DeviceConfig.model_validate({"mqtt": mqtt_settings, "simulate": True, "state_dir": str(tmp_path / "s")})
    with DurableTrace() as trace:
        agent = Agent(config, [user_flow(tmp_path / "flows")])
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_until_complete, args=(agent.run(),), daemon=True)
        thread.start()
        try:
            wait_until(lambda: digests(subscriber, "/event/notice"), 10, what="live notices")
            own_broker.stop()
            for suffix in ("/event/notice", "/forward/info"):
                stored = lambda s=suffix: sum(o == "stored" for o, _, _ in trace.produced(s)) >= 4  # noqa: E731
                wait_until(stored, 10, what=f"{suffix} on disk")
            own_broker.start()
            wait_until(lambda: agent.link is not None and agent.link.offline_stats().waiting == 0, 15, what="drained")
        finally:
            loop.call_soon_threadsafe(agent.stop)
            thread.join(15)
            loop.close()
        for suffix in ("/event/notice", "/forward/info"):
            produced = trace.produced(suffix)
            wait_until(lambda s=suffix, p=produced: not missing(p, digests(subscriber, s)), 15, what=f"{suffix} all")
            assert set(digests(subscriber, suffix)) <= {d for _, _, d in produced}, "delivered something never produced"
    notice = json.loads(next(p for t, p in subscriber.received if t.endswith("/event/notice")))
    assert (notice["type"], notice["status"], notice["level"]) == ("E2E_TICK", "raise", 2)
    forward = json.loads(next(p for t, p in subscriber.received if t.endswith("/forward/info")))
    assert isinstance(forward["forward.payload_bt"], int)


def test_group_set_with_report_and_group_get_return_it(agent: RunningAgent, platform: Platform) -> None:
    entry = {"group_name": "trip", "interval": 0, "interest": {"gnss.latitude": "lat"}, "report": {"max_interval": 1}}
    full = {**FULL_REPORT, "stationary_interval": 0}
    assert platform.request("group/set", {"settings": [entry]})["result"] == [{**entry, "report": full}]
    assert platform.request("group/get", when_free=True)["result"] == [{**entry, "report": full}]
    assert "lat" in platform.wait("trip/info", timeout=10)  # reports driven by the report node


def test_summary_set_with_report_reports_through_the_report_node(agent: RunningAgent, platform: Platform) -> None:
    resp = platform.request("summary/set", {"report": {"max_interval": 1, "stationary_interval": 1}})
    assert resp["result"] == {"report": FULL_REPORT}
    platform.wait("summary/info", timeout=10)
    first = platform.wait("summary/info", timeout=10)
    assert "gnss.ts" in first or "obd.ts" in first
    status: Any = agent.call(lambda: agent.runtime.nodes["flexapi-report"].last_status)
    assert "summary: smart reporting" in status["text"]
