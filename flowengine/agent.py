"""``flowengine run``: the device agent process.

Wires the pieces together: device config -> MQTT link -> runtime with the
installed packages' default flows, the user's flow directories and the nodes the
packages generate from their state -> hot reload, SIGHUP reload, clean shutdown
on SIGTERM/SIGINT, and control requests from commands run on the same state dir
(:mod:`flowengine.control`). Nothing here knows what the flows do.
"""

from __future__ import annotations

import asyncio
import fnmatch
import gc
import logging
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flowengine.config import DeviceConfig
from flowengine.control import AgentLock, ControlServer
from flowengine.errors import StateError
from flowengine.mqtt import MqttLink
from flowengine.mqtt.outbox import DEFAULT_QUEUE_LIMIT
from flowengine.plugins import plugins
from flowengine.reload import FlowSource, Reloader
from flowengine.runtime import Runtime
from flowengine.services import Services
from flowengine.state import prepare_state_dir

log = logging.getLogger("flowengine.agent")

#: The offline store's database, in the state dir.
OFFLINE_STORE_FILE = "offline.db"
#: Seconds after the first deploy when a garbage collector paused for start-up runs again.
GC_RESUME_DELAY = 1.0


def default_flows() -> list[Path]:
    """The flow files the installed packages ship as their default."""
    return [path for plugin in plugins() for path in plugin.default_flows()]


def generated_nodes(state_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Every package's generated nodes for ``state_dir``, by generator name."""
    found: dict[str, list[dict[str, Any]]] = {}
    for plugin in plugins():
        found.update(plugin.generated_nodes(state_dir))
    return found


def flow_environment(config: DeviceConfig, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What flows may read of the environment: the agent's variables, the packages', and the allow-list.

    The process environment (it may hold the broker password) reaches flows only
    through ``[flows] env`` names or patterns.
    """
    environ = os.environ if environ is None else environ
    allowed = {k: v for k, v in environ.items() if any(fnmatch.fnmatchcase(k, p) for p in config.flows.env)}
    own = {"FLOWENGINE_CLIENT_ID": config.mqtt.client_id, "FLOWENGINE_STATE_DIR": str(config.state_dir)}
    for plugin in plugins():
        own.update(plugin.flow_env(config))
    return {**allowed, **own}


def _resume_gc() -> None:
    gc.collect()
    gc.freeze()
    gc.enable()


class Agent:
    """One running device agent; :meth:`run` returns when asked to stop."""

    #: Publishes kept in memory while the broker is out of reach (oldest dropped and counted beyond).
    queue_limit = DEFAULT_QUEUE_LIMIT

    def __init__(
        self, config: DeviceConfig, flow_dirs: Sequence[Path] = (), default_flow: bool = True, resume_gc: bool = False
    ) -> None:
        """``resume_gc``: the caller disabled the garbage collector for start-up; the agent turns it back
        on shortly after the first deploy, with what start-up made frozen (never scanned again)."""
        self.config = config
        self.resume_gc = resume_gc
        self.default_flow = default_flow
        self.env = flow_environment(config)
        files = default_flows() if default_flow else []
        self.source = FlowSource(files=files, dirs=list(flow_dirs), env=self.env)
        self.stopping = asyncio.Event()
        self.runtime: Runtime | None = None
        self.link: MqttLink | None = None

    async def run(self) -> None:
        state_dir = self.config.state_dir
        usable = prepare_state_dir(state_dir)
        lock = self._claim_state_dir(state_dir) if usable else None
        self.link = self.build_link()
        self.runtime = Runtime(state_dir=state_dir, services=Services(self.config, self.link), env=self.env)
        if self.default_flow:  # generated nodes belong to their package's default flow
            for name, objects in generated_nodes(state_dir).items():
                self.runtime.preload_generated(name, objects)
        reloader = Reloader(self.runtime, self.source)
        serving: asyncio.Task[None] | None = None
        await self.link.start(wait=False)  # flows run while the broker is out of reach; the link keeps trying
        try:
            await reloader.load_initial()
            self._summary()
            for plugin in plugins():
                plugin.started(self.runtime, self.config)
            if self.resume_gc:
                asyncio.get_running_loop().call_later(GC_RESUME_DELAY, _resume_gc)
            reloader.watch()
            self._install_signals(reloader)
            serving = self._serve_control(state_dir) if lock is not None else None
            log.info("agent running as %r (%d nodes)", self.config.mqtt.client_id, len(self.runtime.nodes))
            await self.stopping.wait()
        finally:
            reloader.close()
            if serving is not None:
                serving.cancel()
            await self.runtime.stop()
            await self.link.close()
            if lock is not None:
                lock.release()
            log.info("agent stopped")

    def _claim_state_dir(self, state_dir: Path) -> AgentLock | None:
        """Say in ``agent.pid`` that this agent runs on the state dir (commands talk to it through it)."""
        lock = AgentLock(state_dir)
        try:
            other = lock.acquire()
        except OSError as exc:
            log.warning("no control channel (%s): state commands cannot reach this agent", exc.strerror or exc)
            return None
        if other is not None:
            log.error("another agent (pid %s) runs on %s; state commands reach that one, not this", other, state_dir)
            return None
        return lock

    def _serve_control(self, state_dir: Path) -> asyncio.Task[None]:
        server = ControlServer(state_dir, self.control)
        return asyncio.get_running_loop().create_task(server.serve(), name="control")

    async def control(self, request: dict[str, Any]) -> Mapping[str, Any]:
        """Answer a control request: ``ping``, or a package's own (see ``Plugin.control``)."""
        if request["action"] == "ping":
            return {"ok": True, "pid": os.getpid()}
        for plugin in plugins():
            if plugin.name == request.get("package") and self.runtime is not None:
                return await plugin.control(self.runtime, request)
        return {"ok": False, "error": f"no package {request.get('package')!r} to take {request['action']!r}"}

    def build_link(self) -> MqttLink:
        """The device's MQTT link; with ``mqtt.offline_store`` on, durable messages wait on disk while offline.

        A store that cannot be opened (read-only or broken state dir) leaves the link
        in memory mode, said once in the log and in ``offline_stats()``.
        """
        mqtt = self.config.mqtt
        store, problem = None, None
        if mqtt.offline_store:
            from flowengine.mqtt.offline_store import OfflineStore  # sqlite3: only when it is on

            try:
                store = OfflineStore(
                    self.config.state_dir / OFFLINE_STORE_FILE, mqtt.offline_max_messages, mqtt.offline_max_bytes
                )
            except StateError as exc:
                problem = str(exc)
                log.error("offline store unavailable, durable messages wait in memory instead: %s", exc)
        return MqttLink(
            mqtt,
            name="device",
            queue_limit=self.queue_limit,
            offline_store=store,
            offline_problem=problem,
            replay_rate=mqtt.offline_replay_rate,
        )

    def stop(self) -> None:
        self.stopping.set()

    def _summary(self) -> None:
        """What runs, in a few lines at start (packages add theirs in their ``started`` hook)."""
        assert self.runtime is not None
        mqtt = self.config.mqtt
        tls = ", TLS" if mqtt.tls else ""
        store = "on disk" if mqtt.offline_store else "in memory"
        log.info("broker %s:%d%s as %r, QoS %d, durable messages wait %s while offline", mqtt.host, mqtt.port, tls,
                 mqtt.client_id, mqtt.qos, store)  # fmt: skip
        files = len(self.source.files) + sum(len(list(d.glob("*.json"))) for d in self.source.dirs)
        mode = "simulated hardware" if self.config.simulate else "hardware"
        log.info("flows: %d file(s), %d nodes running, on %s; state in %s", files, len(self.runtime.nodes), mode,
                 self.config.state_dir)  # fmt: skip

    def _install_signals(self, reloader: Reloader) -> None:
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, reloader.request)
            loop.add_signal_handler(signal.SIGTERM, self.stop)
            loop.add_signal_handler(signal.SIGINT, self.stop)
        except (NotImplementedError, RuntimeError):  # not the main thread (embedding, tests)
            log.debug("signal handlers not installed")
