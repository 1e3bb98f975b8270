"""Test harness in the spirit of node-red-node-test-helper.

Load a small flow, hand messages to nodes, and wait for what reaches a
``helper`` sink node. The runtime's event loop runs in a background thread so
tests stay plain synchronous code.
"""

from __future__ import annotations

import asyncio
import json
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ConfigDict

from flowengine.clock import Clock, FakeClock
from flowengine.config import DeviceConfig
from flowengine.flowfile import FlowSet, load_flows
from flowengine.message import Msg, make_msg
from flowengine.node import Node, NodeConfig
from flowengine.registry import NodeTypeRegistry
from flowengine.runtime import DeployPlan, Runtime
from flowengine.services import Link, Services

T = TypeVar("T")


class HelperSinks(dict[str, "queue.Queue[Msg]"]):
    """What each helper node received, by node id (shared through the runtime's services)."""

    def of(self, sink_id: str) -> queue.Queue[Msg]:
        return self.setdefault(sink_id, queue.Queue())


class HelperConfig(NodeConfig):
    """A helper stands in for any node in a test flow: it takes whatever properties that node had."""

    model_config = ConfigDict(extra="allow")


class HelperNode(Node[HelperConfig]):
    """A sink that records every message it receives, for assertions."""

    Config = HelperConfig

    def on_input(self, msg: Msg) -> None:
        self.runtime.services.shared(HelperSinks, HelperSinks).of(self.id).put(msg)


class FlowHarness:
    """Runs flows on a private event loop thread; every method is safe to call from a test."""

    def __init__(
        self,
        *,
        state_dir: Path | None = None,
        device: DeviceConfig | None = None,
        link: Link | None = None,
        registry: NodeTypeRegistry | None = None,
        clock: Clock | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """``clock=FakeClock()`` makes time stand still until :meth:`advance` or :meth:`stall` moves it;
        ``env`` is the process environment the flows may read."""
        self.registry = registry or NodeTypeRegistry()
        self.registry.register("helper", HelperNode)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="flow-harness", daemon=True)
        self._thread.start()
        self.runtime = self.call(self._make_runtime(state_dir, Services(device, link), clock))
        self.runtime.env = dict(env or {})
        self.clock = clock
        if isinstance(clock, FakeClock):
            clock.idle = self.runtime.idle
            clock.offloaded = self.runtime.offloaded

    async def _make_runtime(self, state_dir: Path | None, services: Services, clock: Clock | None) -> Runtime:
        return Runtime(self.registry, state_dir=state_dir, services=services, clock=clock)

    @property
    def fake_clock(self) -> FakeClock:
        if not isinstance(self.clock, FakeClock):
            raise TypeError("this harness runs on the real clock (FlowHarness(clock=FakeClock()))")
        return self.clock

    def advance(self, seconds: float) -> None:
        """Move the fake clock forward, firing every timer due on the way and letting the flow react."""
        self.call(self.fake_clock.advance(seconds))

    def stall(self, seconds: float) -> None:
        """Jump the fake clock as a blocked event loop would: each overdue timer fires once."""
        self.call(self.fake_clock.stall(seconds))

    def settle(self) -> None:
        """Let the flow handle what is in flight (fake clock: without moving time)."""
        self.call(self.fake_clock.settle())

    def taken(self, sink_id: str) -> list[Msg]:
        """Every message the helper has received so far and not yet taken (no waiting)."""
        q = self._queue(sink_id)
        got = []
        while not q.empty():
            got.append(q.get_nowait())
        return got

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the harness loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def deploy(self, nodes: list[dict[str, Any]] | FlowSet, tmp: Path | None = None) -> DeployPlan:
        """Deploy a list of node dicts (written to a temp flow file) or a loaded FlowSet."""
        flows = nodes if isinstance(nodes, FlowSet) else self._flowset(nodes, tmp)
        return self.call(self.runtime.deploy(flows))

    @staticmethod
    def _flowset(nodes: list[dict[str, Any]], tmp: Path | None) -> FlowSet:
        if tmp is None:
            tmp = Path(tempfile.mkdtemp(prefix="flowtest-"))
        path = tmp / "flow.json"
        path.write_text(json.dumps(nodes))
        return load_flows([path])

    def inject(self, node_id: str, msg: Msg | None = None, **fields: Any) -> None:
        """Deliver ``msg`` (or a new message built from ``fields``) to a node's input.

        With a fake clock the flow has handled it when this returns.
        """
        message = msg if msg is not None else make_msg(**fields)
        if isinstance(self.clock, FakeClock):
            self.call(self._inject_and_settle(node_id, message))
        else:
            self.loop.call_soon_threadsafe(self.runtime.inject, node_id, message)

    async def _inject_and_settle(self, node_id: str, message: Msg) -> None:
        self.runtime.inject(node_id, message)
        await self.fake_clock.settle()

    def node(self, node_id: str) -> Node[Any]:
        return self.runtime.nodes[node_id]

    def _queue(self, sink_id: str) -> queue.Queue[Msg]:
        return self.runtime.services.shared(HelperSinks, HelperSinks).of(sink_id)

    def received(self, sink_id: str, count: int = 1, timeout: float = 5.0) -> list[Msg]:
        """Wait for ``count`` messages at a helper node; fail after ``timeout`` seconds."""
        q = self._queue(sink_id)
        got = []
        for _ in range(count):
            try:
                got.append(q.get(timeout=timeout))
            except queue.Empty:
                raise AssertionError(
                    f"helper {sink_id!r}: got {len(got)} of {count} message(s) in {timeout}s"
                ) from None
        return got

    def one(self, sink_id: str, timeout: float = 5.0) -> Msg:
        return self.received(sink_id, 1, timeout)[0]

    def first_payload(self, sink_id: str, check: Any, timeout: float = 10.0) -> Any:
        """The payload of the first message at the sink for which ``check(payload)`` is true."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            payload = self.one(sink_id, timeout=max(0.01, deadline - time.monotonic()))["payload"]
            if check(payload):
                return payload
        raise AssertionError(f"helper {sink_id!r}: no matching payload in {timeout}s")

    def nothing(self, sink_id: str, within: float = 0.3) -> bool:
        """True when no message reaches the sink within ``within`` seconds."""
        try:
            self._queue(sink_id).get(timeout=within)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        self.call(self.runtime.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()

    def __enter__(self) -> FlowHarness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_source(node_id: str, node_type: str, device: Any, interval: float = 0.1, **props: Any) -> FlowHarness:
    """A harness running one source node (with ``device`` as its DeviceConfig) wired to helper ``out``."""
    harness = FlowHarness(device=device)
    node = {"id": node_id, "type": node_type, "interval": interval, "wires": [["out"]], **props}
    try:
        harness.deploy([node, {"id": "out", "type": "helper", "wires": []}])
    except BaseException:
        harness.close()
        raise
    return harness


class Mosquitto:
    """A private mosquitto broker on a free port, for tests and benchmarks.

    ``extra`` adds config lines (TLS listener, password file, ...). Runs as root
    with ``user root`` so it can read files in private temp dirs.
    """

    def __init__(self, workdir: Path, *, port: int | None = None, extra: list[str] | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.extra = extra or []
        self.proc: Any = None

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Mosquitto:

        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        conf = self.workdir / f"mosquitto-{self.port}.conf"
        lines = [
            "user root",
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.workdir}/",
            f"persistence_file mosquitto-{self.port}.db",
            "max_queued_messages 100000",
            "log_dest stderr",
            "log_type error",
            *self.extra,
        ]
        conf.write_text("\n".join(lines) + "\n")
        log_file = open(self.workdir / f"mosquitto-{self.port}.log", "ab")  # noqa: SIM115 (owned by the process)
        self.proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log_file, stderr=log_file)
        wait_for_port(self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except Exception:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0, proc: Any = None) -> None:
    """Block until something accepts TCP connections on ``port``."""

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on port {port} after {timeout}s")


def wait_until(predicate: Any, timeout: float = 5.0, interval: float = 0.01, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


#: The password of the user ``device`` on :func:`auth_broker_config` brokers.
BROKER_PASSWORD = "s3cret-Pa55"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> Path:
    """A self-signed test CA: ``name``.crt / ``name``.key in ``directory``; returns the certificate."""
    _openssl(
        *("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
        *("-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={name}"),
        *("-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"),
        cwd=directory,
    )
    return directory / f"{name}.crt"


def make_server_cert(directory: Path, ca: str) -> None:
    """server.crt / server.key for 127.0.0.1 and localhost, signed by the CA named ``ca``."""
    _openssl(
        *("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
        *("-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"),
        cwd=directory,
    )
    (directory / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(
        *("x509", "-req", "-in", "server.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial"),
        *("-out", "server.crt", "-days", "2", "-extfile", "san.cnf"),
        cwd=directory,
    )


def tls_listener_config(directory: Path) -> tuple[list[str], int, Path]:
    """Broker config lines for an extra TLS listener with a fresh CA: (lines, TLS port, CA file)."""
    ca = make_ca(directory, "test-ca")
    make_server_cert(directory, "test-ca")
    port = free_port()
    lines = [
        f"listener {port} 127.0.0.1",
        f"cafile {ca}",
        f"certfile {directory / 'server.crt'}",
        f"keyfile {directory / 'server.key'}",
    ]
    return lines, port, ca


def auth_broker_config(directory: Path) -> list[str]:
    """Broker config lines requiring user ``device`` with :data:`BROKER_PASSWORD`."""
    passwords = directory / "passwords"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "device", BROKER_PASSWORD], check=True)
    return [f"password_file {passwords}", "allow_anonymous false"]
