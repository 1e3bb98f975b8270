"""The platform side and running agents for FlexAPI end-to-end tests (shared by several test modules).

``Platform`` is a plain paho client that publishes requests and collects
everything under a device's root; ``RunningAgent`` is the real Agent in-process on
its own loop thread; ``AgentProcess`` is ``flowengine run`` as a subprocess (to
SIGKILL it, or to measure its memory); ``Burst`` sends many requests fast and
collects their answers by topic and token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from flowengine.agent import Agent
from flowengine.config import DeviceConfig
from flowengine.message import Msg
from flowengine.node import Node, NodeConfig
from flowengine.testing import Mosquitto, wait_until
from nodes.sources.base import SourceNode

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FLOW = REPO / "flows" / "default.json"
ERROR_CODES = {"auth_failed", "invalid_parameter", "not_found", "device_busy", "device_error", "data_invalid"}


def _client(port: int, prefix: str) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{prefix}-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(0)  # no client-side throttle: bursts go out as fast as TCP takes them
    return client


def _subscribe(client: mqtt.Client, port: int, topic_filter: str) -> None:
    subscribed = threading.Event()
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe(topic_filter, qos=1)
    assert subscribed.wait(5), "platform subscription not acknowledged"


class Platform:
    """The third-party platform: publishes requests, collects everything under the device's root."""

    def __init__(self, port: int, root: str) -> None:
        self.root = root
        self.messages: list[tuple[str, bytes]] = []
        self._cursor: set[int] = set()
        self._cond = threading.Condition()
        self.client = _client(port, "platform")
        self.client.on_message = self._on_message
        _subscribe(self.client, port, f"{root}/#")

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append((message.topic, message.payload))
            self._cond.notify_all()

    def wait_ready(self, timeout: float = 10.0) -> Platform:
        """Probe until the agent answers (its subscriptions are in place at the broker).

        The probe asks for a group that does not exist: ``not_found`` never touches a retry interval.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.wait_for_token("ready-probe/refresh", within=0.5)
                return self
            except AssertionError:
                if time.monotonic() > deadline:
                    raise

    def wait_for_token(self, path: str, within: float) -> dict[str, Any]:
        token = uuid.uuid4().hex
        self.publish(path, json.dumps({"client_token": token}).encode())
        return self.wait(f"{path}/resp", lambda p: p.get("client_token") == token, timeout=within)

    def publish(self, path: str, payload: bytes) -> None:
        self.client.publish(f"{self.root}/{path}", payload, qos=1).wait_for_publish(5)

    def request(
        self, path: str, body: dict[str, Any] | None = None, *, raw: bytes | None = None, when_free: bool = False
    ) -> dict[str, Any]:
        """Publish a request and return its response; ``when_free`` repeats it while the answer is device_busy."""
        deadline = time.monotonic() + 7
        while True:
            resp = self._request(path, body, raw)
            if not when_free or resp.get("error") != "device_busy" or time.monotonic() > deadline:
                return resp
            time.sleep(0.1)

    def _request(self, path: str, body: dict[str, Any] | None, raw: bytes | None) -> dict[str, Any]:
        token = uuid.uuid4().hex
        data = raw if raw is not None else json.dumps({"client_token": token, **(body or {})}).encode()
        self.publish(path, data)
        want = token if raw is None else None
        return self.wait(f"{path}/resp", lambda p: want is None or p.get("client_token") == want)

    def wait(
        self, path: str, match: Callable[[dict[str, Any]], bool] = lambda p: True, timeout: float = 5.0
    ) -> dict[str, Any]:
        topic = f"{self.root}/{path}"
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for index, (got, payload) in enumerate(self.messages):
                    if index not in self._cursor and got == topic and match(json.loads(payload)):
                        self._cursor.add(index)
                        return json.loads(payload)  # type: ignore[no-any-return]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"nothing on {topic} within {timeout}s")
                self._cond.wait(left)

    def count(self) -> int:
        """How many messages arrived so far (a mark for :meth:`payloads`)."""
        with self._cond:
            return len(self.messages)

    def payloads(self, path: str, since: int = 0) -> list[dict[str, Any]]:
        """Every payload that arrived on ``path``, from message number ``since`` on."""
        topic = f"{self.root}/{path}"
        with self._cond:
            found = self.messages[since:]
        return [json.loads(payload) for got, payload in found if got == topic]

    def silent(self, path: str, within: float = 0.5) -> bool:
        """True when nothing arrives on ``path`` within ``within`` seconds."""
        try:
            self.wait(path, timeout=within)
        except AssertionError:
            return True
        return False

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Burst:
    """Sends many requests without waiting and collects every answer, by response topic and token."""

    def __init__(self, port: int, root: str) -> None:
        self.root = root
        self.answers: dict[str, list[dict[str, Any]]] = defaultdict(list)  # response topic -> payloads
        self.unreadable: list[tuple[str, bytes]] = []
        self.sent: Counter[str] = Counter()  # response topic -> requests sent
        self._count = 0
        self._lock = threading.Lock()
        self.client = _client(port, "burst")
        self.client.on_message = self._on_message
        _subscribe(self.client, port, f"{root}/+/+/resp")

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            payload = json.loads(message.payload.decode("utf-8"))
        except ValueError:
            payload = None
        with self._lock:
            if isinstance(payload, dict):
                self.answers[message.topic].append(payload)
            else:
                self.unreadable.append((message.topic, message.payload))
            self._count += 1

    def send(self, path: str, payload: bytes) -> None:
        topic = f"{self.root}/{path}"
        self.client.publish(topic, payload, qos=1)
        self.sent[f"{topic}/resp"] += 1

    @property
    def received(self) -> int:
        with self._lock:
            return self._count

    def wait_all(self, timeout: float = 30.0) -> None:
        """Wait until as many answers arrived as requests were sent."""
        total = sum(self.sent.values())
        wait_until(lambda: self.received >= total, timeout, interval=0.05, what=f"{total} answers")

    def reset(self) -> None:
        """Forget what was sent and answered (after :meth:`wait_all`), for the next burst."""
        with self._lock:
            self.answers.clear()
            self.unreadable.clear()
            self.sent.clear()
            self._count = 0

    def answers_to(self, topic: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.answers[f"{self.root}/{topic}/resp"])

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def well_formed(resp: dict[str, Any], token: str | None) -> str | None:
    """What is wrong with a response envelope (None: nothing), given the token that should come back."""
    if token is not None and resp.get("client_token") != token:
        return f"client_token {resp.get('client_token')!r} instead of {token!r}"
    if token is None and "client_token" in resp:
        return "carries a client_token the request had no usable one for"
    if ("result" in resp) == ("error" in resp):
        return "must carry exactly one of result or error"
    if "error" in resp and (resp["error"] not in ERROR_CODES or not isinstance(resp.get("error_desc"), str)):
        return "error must be one of the six codes with an error_desc string"
    extra = set(resp) - {"client_token", "result", "error", "error_desc"}
    return f"unexpected fields {sorted(extra)}" if extra else None


def default_flow_reading_every(directory: Path, seconds: float) -> Path:
    """A copy of the default flow whose sources read every ``seconds`` (the shipped flow reads every 10 s)."""
    nodes = json.loads(DEFAULT_FLOW.read_text())
    for node in nodes:
        if node["type"].endswith(" source"):
            node["interval"] = seconds
    directory.mkdir(parents=True, exist_ok=True)
    copy = directory / f"default-every-{seconds:g}s.json"
    copy.write_text(json.dumps(nodes))
    return copy


class RunningAgent:
    """``flowengine run`` in-process: the real Agent on its own event loop thread."""

    def __init__(self, config: DeviceConfig, flow_dirs: Sequence[Path] = (), default_flow: Path = DEFAULT_FLOW) -> None:
        self.agent = Agent(config, flow_dirs, default_flow=False)
        self.agent.source.files = [default_flow]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self.agent.run(),), daemon=True)
        self.thread.start()
        wait_until(
            lambda: self.agent.runtime is not None and "flexapi-out" in self.agent.runtime.nodes, what="agent up"
        )
        wait_until(lambda: self.agent.link.connected, what="agent connected")
        wait_until(self._subscribed, what="request topics subscribed")

    def _subscribed(self) -> bool:
        return bool(self.agent.runtime and self.agent.runtime.nodes["flexapi-in"].last_status.get("fill") == "green")

    @property
    def runtime(self) -> Any:
        return self.agent.runtime

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the agent's loop thread and return its result."""

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(5)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.agent.stop)
        self.thread.join(10)
        assert not self.thread.is_alive(), "agent did not stop"
        self.loop.close()


class AgentProcess:
    """``flowengine run --simulate`` as a subprocess; its log goes to ``log``."""

    def __init__(
        self,
        broker: Mosquitto,
        client_id: str,
        state_dir: Path,
        log: Path,
        *extra: str,
        env: dict[str, str] | None = None,
    ) -> None:
        cmd = [sys.executable, "-m", "flowengine", "run", "--simulate", "--broker", broker.url]
        cmd += ["--client-id", client_id, "--state-dir", str(state_dir), *extra]
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=out, env=env)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """Power cut: SIGKILL, no chance to flush or close anything."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    @property
    def pid(self) -> int:
        return self.proc.pid


class Agents:
    """Starts simulated agents on a broker under one client id, with the integrator's sides; stops them at the end.

    ``sim(agent)`` is the integrator's side of ``sim/{client_id}/control`` (see :func:`drive`),
    ``platform()`` the FlexAPI platform's.
    """

    def __init__(self, broker: Mosquitto, tmp_path: Path, client_id: str) -> None:
        self.broker, self.tmp_path, self.client_id = broker, tmp_path, client_id
        self.state_dir = tmp_path / "state"
        self.running: list[RunningAgent] = []
        self.sides: list[Platform] = []

    def start(
        self,
        scale: float = 1.0,
        flows: Path | None = None,
        every: float = 1.0,
        flexapi: dict[str, Any] | None = None,
        **sources: Any,
    ) -> RunningAgent:
        """An agent whose sources read every ``every`` seconds (1 s: the values show how the vehicle got
        there), its vehicle running ``scale`` simulated seconds a second."""
        sources.setdefault("vehicle", {})["time_scale"] = scale
        extra = {"flexapi": flexapi} if flexapi else {}
        config = device(self.broker, self.state_dir, self.client_id, sources=sources, **extra)
        flow = default_flow_reading_every(self.tmp_path / "flow", every)
        self.running.append(RunningAgent(config, [flows] if flows else [], default_flow=flow))
        return self.running[-1]

    def platform(self) -> Platform:
        self.sides.append(Platform(self.broker.port, f"v1/{self.client_id}").wait_ready())
        return self.sides[-1]

    def sim(self, agent: RunningAgent) -> Platform:
        """The integrator's side of ``sim/{client_id}/control``, once the agent answers there."""
        side = Platform(self.broker.port, f"sim/{self.client_id}")
        self.sides.append(side)
        node = agent.runtime.nodes["sim-control"]
        wait_until(lambda: node.last_status.get("fill") == "green", what="sim control subscribed")
        wait_until(lambda: _answers(side), 10, interval=0.1, what="sim/<client_id>/control to answer")
        return side

    def close(self) -> None:
        for side in self.sides:
            side.close()
        for agent in self.running:
            agent.stop()


PROBE = {"vehicle.target_speed": None}  # changes nothing: the route drives, as it does anyway


def _answers(side: Platform) -> bool:
    try:
        side.request("control", PROBE)
    except AssertionError:
        return False
    return True


def drive(sim: Platform, settings: dict[str, Any]) -> dict[str, Any]:
    """Send simulator settings; return the result (fails on an error answer)."""
    answer = sim.request("control", settings)
    assert "result" in answer, answer
    return answer["result"]  # type: ignore[no-any-return]


def store(agent: RunningAgent) -> dict[str, Any]:
    """The agent's latest values (what the sources published)."""
    return agent.runtime.nodes["flexapi-values"].latest  # type: ignore[no-any-return]


class Recorder:
    """Every value the given keys take in the agent's store (sources publish about once a second)."""

    def __init__(self, agent: RunningAgent, *keys: str) -> None:
        self.agent, self.keys = agent, keys
        self.seen: dict[str, list[Any]] = {k: [] for k in keys}
        self.first_seen: dict[tuple[str, Any], float] = {}  # (key, value) -> wall time it was first seen
        self.rows: list[tuple[Any, ...]] = []  # the values of all the keys, each time one changed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            values = store(self.agent)
            row = tuple(values.get(key) for key in self.keys)
            if not self.rows or self.rows[-1] != row:
                self.rows.append(row)
            for key, value in zip(self.keys, row, strict=True):
                if not self.seen[key] or self.seen[key][-1] != value:
                    self.seen[key].append(value)
                    self.first_seen.setdefault((key, value), time.time())

    def until(self, key: str, check: Callable[[Any], bool], timeout: float) -> list[Any]:
        wait_until(lambda: any(v is not None and check(v) for v in self.seen[key]), timeout, what=f"{key}")
        return [v for v in self.seen[key] if v is not None]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


def device(broker: Mosquitto, state_dir: Path, client_id: str, **extra: Any) -> DeviceConfig:
    mqtt_settings = {"host": "127.0.0.1", "port": broker.port, "client_id": client_id, **extra.pop("mqtt", {})}
    data = {"mqtt": mqtt_settings, "simulate": True, "state_dir": str(state_dir), **extra}
    return DeviceConfig.model_validate(data)


def has_values(agent: RunningAgent, *prefixes: str) -> Callable[[], bool]:
    def check() -> bool:
        values = agent.runtime.nodes["flexapi-values"].latest
        return all(values.get(f"{p}.ts") is not None for p in prefixes)

    return check


def state_files(state_dir: Path) -> dict[str, bytes]:
    """Every FlexAPI state file's bytes, by path relative to the state dir."""
    root = state_dir / "flexapi"
    return {str(p.relative_to(state_dir)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# -- node types that misbehave, for fault-isolation tests (register with monkeypatch) ----------


class SlowNode(Node):
    """Takes ``seconds`` (awaited) per message: a user node that cannot keep up."""

    class Config(NodeConfig):
        seconds: float = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handled = 0

    async def on_input(self, msg: Msg) -> None:  # type: ignore[override]
        await asyncio.sleep(self.config.seconds)  # type: ignore[attr-defined]
        self.handled += 1


class HungSource(SourceNode):
    """A source whose driver thread hangs in a read that never returns (until the node closes)."""

    prefixes = ("hung",)
    keys = ("hung.value",)

    async def on_start(self) -> None:
        self.released = threading.Event()
        await super().on_start()

    async def run_backend(self) -> None:
        self.publish({"hung.value": 1})
        await self.device.call(self.released.wait)

    async def on_close(self) -> None:
        self.released.set()
        await super().on_close()


TEST_TYPES = {"test slow": "agent_support:SlowNode", "test hung source": "agent_support:HungSource"}


#: One line of the link's durable publish trace (logger ``flowengine.mqtt.durable``, debug).
TRACE = re.compile(r"durable (sent|stored|queued) (\S+) ([0-9a-f]{16})")


def parse_trace(text: str) -> list[tuple[str, str, str]]:
    """(outcome, topic, digest) of every durable trace line in a log."""
    return [m.groups() for m in TRACE.finditer(text)]  # type: ignore[misc]


class DurableTrace(logging.Handler):
    """Collects the in-process agent's durable publish trace while in a ``with`` block."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.logger = logging.getLogger("flowengine.mqtt.durable")

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def produced(self, suffix: str = "") -> list[tuple[str, str, str]]:
        """(outcome, topic, digest) of each durable message so far whose topic ends with ``suffix``."""
        return [t for t in parse_trace("\n".join(list(self.lines))) if t[1].endswith(suffix)]

    def __enter__(self) -> DurableTrace:
        self.level_before = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self.level_before)
