"""Fixtures: a flow harness per test, private mosquitto brokers, and a running FlexAPI agent with its platform."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_support import Agents, Platform, RunningAgent, device

from flowengine.clock import FakeClock
from flowengine.config import MqttSettings
from flowengine.mqtt import Backoff, MqttLink
from flowengine.mqtt.testing import LoopThread, MqttPeer
from flowengine.testing import FlowHarness, Mosquitto, auth_broker_config, tls_listener_config


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[FlowHarness]:
    """A runtime on its own loop thread, with a state dir in ``tmp_path``."""
    h = FlowHarness(state_dir=tmp_path / "state")
    try:
        yield h
    finally:
        h.close()


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FlowHarness]:
    """A harness on a fake clock: time moves only by ``fake.advance(s)`` / ``fake.stall(s)``."""
    h = FlowHarness(state_dir=tmp_path / "state", clock=FakeClock())
    try:
        yield h
    finally:
        h.close()


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    """An event loop on its own thread, for driving an MqttLink from a test."""
    runner = LoopThread()
    yield runner
    runner.close()


_link_ids = itertools.count()


@pytest.fixture(params=[True, False], ids=["fast-path", "public-api"])
def links(loop: LoopThread, request: pytest.FixtureRequest) -> Iterator[Callable[..., MqttLink]]:
    """Make MqttLinks on the test loop: ``links(backoff=(first, max), start=True, options={...}, **settings)``.

    ``settings`` are MqttSettings fields (a unique client id by default), ``options``
    the link's own keyword arguments; every link is closed at the end. Every test using
    it runs twice: on paho's client with the fast path, and through paho's public API only.
    """
    made: list[MqttLink] = []

    def make(
        backoff: tuple[float, float] = (0.05, 0.2),
        start: bool = True,
        options: dict[str, Any] | None = None,
        **settings: Any,
    ) -> MqttLink:
        settings.setdefault("client_id", f"test-link-{next(_link_ids)}")
        options = {"fast_path": request.param, **(options or {})}
        link = MqttLink(MqttSettings(**settings), backoff=Backoff(*backoff), **options)
        made.append(link)
        if start:
            loop.call(link.start())
        return link

    yield make
    for link in made:
        loop.call(link.close())


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A mosquitto on a free port, shared by one test module."""
    with Mosquitto(tmp_path_factory.mktemp("broker")) as b:
        yield b


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A mosquitto for one test only (to stop and restart it)."""
    b = Mosquitto(tmp_path)
    try:
        yield b.start()
    finally:
        b.stop()


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mosquitto, int, Path]]:
    """A broker with a plain listener and a TLS listener; yields (broker, TLS port, CA file)."""
    directory = tmp_path_factory.mktemp("tls")
    lines, tls_port, ca = tls_listener_config(directory)
    with Mosquitto(directory, extra=lines) as broker:
        yield broker, tls_port, ca


@pytest.fixture(scope="module")
def auth_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A broker that only lets in user ``device`` with ``flowengine.testing.BROKER_PASSWORD``."""
    directory = tmp_path_factory.mktemp("auth")
    with Mosquitto(directory, extra=auth_broker_config(directory)) as broker:
        yield broker


@pytest.fixture
def relay_peer(broker: Mosquitto) -> Iterator[MqttPeer]:
    """The other side of the relay flows: subscribed to ``relay/out``."""
    peer = MqttPeer(broker.port)
    peer.subscribe("relay/out", qos=1)
    yield peer
    peer.close()


@pytest.fixture
def client_id() -> str:
    """A fresh device client id (each agent test gets its own topics)."""
    return f"dev-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def agents(broker: Mosquitto, tmp_path: Path, client_id: str) -> Iterator[Agents]:
    """Simulated agents started on the module's broker under ``client_id`` (sources reading every second)."""
    started = Agents(broker, tmp_path, client_id)
    try:
        yield started
    finally:
        started.close()


@pytest.fixture
def agent(broker: Mosquitto, tmp_path: Path, client_id: str) -> Iterator[RunningAgent]:
    """The shipped agent (default flow, simulated sources) in-process on the module's broker."""
    running = RunningAgent(device(broker, tmp_path / "state", client_id))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def platform(broker: Mosquitto, client_id: str) -> Iterator[Platform]:
    """The platform side for ``client_id``, once the agent answers."""
    p = Platform(broker.port, f"v1/{client_id}")
    try:
        yield p.wait_ready()
    finally:
        p.close()
