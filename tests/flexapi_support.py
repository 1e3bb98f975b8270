"""The default flow's FlexAPI nodes on a fake clock, without hardware or MQTT (shared by harness tests).

``start_agent`` deploys the default flow with a fake io source (``FakeIoSource``:
records what it is asked to drive, fails on demand) and a helper sink in place of
``flexapi out``; ``Agent`` sends requests and reads answers and reports. ``Disk``
makes the state disk fail like a full one; ``MemoryLink`` is a device link without
a broker (for user ``mqtt in`` / ``mqtt out`` nodes in harness flows).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from paho.mqtt.client import topic_matches_sub

import flowengine.state
from flowengine.clock import FakeClock
from flowengine.config import DeviceConfig
from flowengine.errors import DeviceIOError, StateError
from flowengine.message import make_msg
from flowengine.mqtt.offline import OfflineStats
from flowengine.mqtt.subscriptions import MessageCallback, Received, Subscription
from flowengine.node import Node
from flowengine.registry import NodeTypeRegistry
from flowengine.services import StateListener
from flowengine.testing import FlowHarness, wait_until
from nodes.sources.base import SourceConfig

ROOT = "v1/dev1"
DEFAULT_FLOW = Path(__file__).resolve().parents[1] / "flows" / "default.json"


class FakeIoSource(Node[SourceConfig]):
    """Stands in for the io source: drives nothing, records what it is asked, then reports the outputs."""

    Config = SourceConfig  # the default flow's properties of the io source
    accepts_input = False

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.applied: list[dict[str, int]] = []
        self.fail = False
        #: Called before a failure is raised (a test breaks the disk at that moment, say).
        self.on_failure: Callable[[], None] | None = None

    async def apply_outputs(self, values: dict[str, int]) -> None:
        if self.fail:
            if self.on_failure is not None:
                self.on_failure()
            raise DeviceIOError("DO driver not responding")
        self.applied.append(dict(values))
        self.send(make_msg({**values, "io.ts": 1}, topic="io"))


def agent_nodes(extra: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The default flow without hardware and MQTT: a fake io source, a helper sink in place of ``flexapi out``."""
    nodes = []
    for node in json.loads(DEFAULT_FLOW.read_text()):
        if node["type"] == "io source":
            node = {**node, "wires": [["flexapi-values"]]}
        elif node["type"].endswith(" source") or node["type"] == "flexapi in":
            continue
        elif node["type"] == "flexapi out":
            node = {"id": node["id"], "type": "helper", "z": node["z"], "wires": []}
        nodes.append(node)
    return nodes + (extra or [])


class Agent:
    """Requests in, responses and infos out, over a FlowHarness on a fake clock."""

    def __init__(self, harness: FlowHarness) -> None:
        self.h = harness

    def wait_retry(self, seconds: float = 1.0) -> None:
        """Let the minimum retry interval pass (on the fake clock)."""
        self.h.advance(seconds)

    def request(self, path: str, body: Any = None, *, raw: bytes | None = None, token: str = "t1") -> dict[str, Any]:
        payload = raw if raw is not None else json.dumps({"client_token": token, **(body or {})}).encode()
        self.h.inject("flexapi-request", topic=f"{ROOT}/{path}", payload=payload)
        return self.next(f"{ROOT}/{path}/resp")

    def next(self, topic: str, timeout: float = 5.0) -> dict[str, Any]:
        while True:
            msg = self.h.one("flexapi-out", timeout)
            if msg["topic"] == topic:
                return msg["payload"]  # type: ignore[no-any-return]

    def infos(self, group: str) -> list[dict[str, Any]]:
        """The reports of ``group`` that reached ``flexapi out`` so far."""
        return [m["payload"] for m in self.h.taken("flexapi-out") if m["topic"] == f"{ROOT}/{group}/info"]

    def feed(self, values: dict[str, Any]) -> None:
        self.h.inject("flexapi-values", topic="test", payload=values)
        wait_until(lambda: all(self.store.get(k) == v for k, v in values.items()), what="values stored")

    @property
    def store(self) -> dict[str, Any]:
        return self.h.runtime.nodes["flexapi-values"].latest  # type: ignore[attr-defined, no-any-return]


def start_agent(
    state_dir: Path, device: DeviceConfig, extra: list[dict[str, Any]] | None = None, link: Any = None
) -> FlowHarness:
    registry = NodeTypeRegistry()
    registry.register("io source", FakeIoSource)
    h = FlowHarness(state_dir=state_dir, device=device, registry=registry, clock=FakeClock(), link=link)
    h.deploy(agent_nodes(extra))
    return h


def device_config(revision: str = "1.0.8", **flexapi: Any) -> DeviceConfig:
    """The harness device ``dev1`` speaking ``revision``."""
    return DeviceConfig.model_validate({"mqtt": {"client_id": "dev1"}, "flexapi": {"revision": revision, **flexapi}})


class Disk:
    """The state disk: every write goes through here and fails like a full disk while :attr:`full`.

    Install with ``monkeypatch.setattr(flowengine.state, "write_atomic", disk.write)``; the
    old files stay as they were, as on a disk that refuses new blocks.
    """

    def __init__(self) -> None:
        self.real = flowengine.state.write_atomic
        self.full = False
        self.writes: list[Path] = []
        #: Writes still allowed before the disk fills up (None: no such countdown).
        self.fills_after: int | None = None

    def write(self, path: Path, data: bytes) -> None:
        if self.fills_after is not None:
            self.full = self.fills_after <= 0
            self.fills_after -= 1
        if self.full:
            raise StateError(f"cannot write {path}: No space left on device")
        self.writes.append(path)
        self.real(path, data)


class MemoryLink:
    """A device link without a broker: subscriptions by filter, publishes recorded."""

    connected = True

    def __init__(self) -> None:
        self.subs: list[Subscription] = []
        self.published: list[tuple[str, bytes]] = []

    def subscribe(self, topic_filter: str, qos: int, callback: MessageCallback) -> Subscription:
        sub = Subscription(topic_filter, qos, callback)
        self.subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self.subs:
            self.subs.remove(sub)

    def deliver(self, topic: str, payload: bytes) -> None:
        """A message from the broker (call on the runtime's loop)."""
        for sub in list(self.subs):
            if topic_matches_sub(sub.topic_filter, topic):
                sub.callback(topic, Received(payload))

    def publish(self, topic: str, payload: Any, qos: int | None = None, retain: bool = False, **_: Any) -> Any:
        self.published.append((topic, bytes(payload) if not isinstance(payload, str) else payload.encode()))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def offline_stats(self) -> OfflineStats:
        return OfflineStats("memory", 0, 0, 0, None, 0, 0)

    def add_state_listener(self, callback: StateListener) -> None:
        callback(True, "")

    def remove_state_listener(self, callback: StateListener) -> None:
        pass
