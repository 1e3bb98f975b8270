"""``flowengine run``: the device agent process.

Wires the pieces together: device config -> MQTT link -> runtime with the
default flow, the user's flow directories and the nodes generated from state
(custom groups) -> hot reload, SIGHUP reload, clean shutdown on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flowengine.config import DeviceConfig
from flowengine.mqtt.outbox import DEFAULT_QUEUE_LIMIT
from flowengine.reload import FlowSource, Reloader
from flowengine.runtime import Runtime
from flowengine.state import remove_stale_temp_files

log = logging.getLogger("flowengine.agent")

#: Device config sections read by shared services rather than by one source node.
SHARED_SECTIONS = {"vehicle"}

#: Code that generates nodes from the state dir, deployed with the flow files: name -> "module:function".
GENERATORS: dict[str, str] = {"custom-groups": "nodes.flexapi.custom_groups:generated_nodes"}
#: The Offline Data Store's database, in the state dir.
OFFLINE_STORE_FILE = "offline.db"


def generated_nodes(state_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Every generator's nodes for ``state_dir`` (a generator that is not installed yields none)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for name, target in GENERATORS.items():
        module_name, _, attr = target.partition(":")
        try:
            generate = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError):
            continue
        found[name] = generate(state_dir)
    return found


class Agent:
    """One running device agent; :meth:`run` returns when asked to stop."""

    #: Publishes kept in memory while the broker is out of reach (oldest dropped and counted beyond).
    queue_limit = DEFAULT_QUEUE_LIMIT

    def __init__(self, config: DeviceConfig, flow_dirs: Sequence[Path] = (), default_flow: bool = True) -> None:
        self.config = config
        self.default_flow = default_flow
        files = [_default_flow()] if default_flow else []
        self.source = FlowSource(files=files, dirs=list(flow_dirs))
        self.stopping = asyncio.Event()
        self.runtime: Runtime | None = None
        self.link: Any = None

    async def run(self) -> None:
        state_dir = self.config.state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(state_dir)
        os.environ.update(flow_environment(self.config))
        self.link = self.build_link()
        self.runtime = Runtime(
            state_dir=state_dir, services={"device": self.config, "mqtt": self.link}, env=dict(os.environ)
        )
        if self.default_flow:  # generated nodes (custom groups) attach to the default flow's nodes
            for name, objects in generated_nodes(state_dir).items():
                self.runtime.preload_generated(name, objects)
        reloader = Reloader(self.runtime, self.source)
        await self.link.start(wait=False)  # flows run while the broker is out of reach; the link keeps trying
        try:
            await reloader.load_initial()
            self._warn_unused_sections()
            reloader.watch()
            self._install_signals(reloader)
            log.info("agent running as %r (%d nodes)", self.config.mqtt.client_id, len(self.runtime.nodes))
            await self.stopping.wait()
        finally:
            reloader.close()
            await self.runtime.stop()
            await self.link.close()
            log.info("agent stopped")

    def build_link(self) -> Any:
        """The device's MQTT link; with ``flexapi.offline_store`` on, info messages wait on disk while offline."""
        from flowengine.mqtt import MqttLink
        from flowengine.mqtt.offline_store import OfflineStore

        flexapi = self.config.flexapi
        store = None
        if flexapi.offline_store:
            path = self.config.state_dir / OFFLINE_STORE_FILE
            store = OfflineStore(path, flexapi.offline_max_messages, flexapi.offline_max_bytes)
        return MqttLink(
            self.config.mqtt,
            name="device",
            queue_limit=self.queue_limit,
            offline_store=store,
            replay_rate=flexapi.offline_replay_rate,
        )

    def stop(self) -> None:
        self.stopping.set()

    def _warn_unused_sections(self) -> None:
        """A ``[sources.X]`` no node reads is most likely a typo: say so instead of ignoring it."""
        assert self.runtime is not None
        used = {getattr(node, "section_name", None) for node in self.runtime.nodes.values()} | SHARED_SECTIONS
        for section in sorted(set(self.config.sources) - used):
            log.warning("device config section [sources.%s] is not used by any running source node", section)

    def _install_signals(self, reloader: Reloader) -> None:
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, reloader.request)
            loop.add_signal_handler(signal.SIGTERM, self.stop)
            loop.add_signal_handler(signal.SIGINT, self.stop)
        except (NotImplementedError, RuntimeError):  # not the main thread (embedding, tests)
            log.debug("signal handlers not installed")


def flow_environment(config: DeviceConfig) -> dict[str, str]:
    """Variables flow files can use as ``${NAME}``: the device's identity and FlexAPI topic root."""
    mqtt = config.mqtt
    root = f"v1/{mqtt.client_id}"
    return {
        "FLOWENGINE_CLIENT_ID": mqtt.client_id,
        "FLOWENGINE_TOPIC_ROOT": f"{mqtt.topic_prefix}/{root}" if mqtt.topic_prefix else root,
        "FLOWENGINE_STATE_DIR": str(config.state_dir),
    }


def _default_flow() -> Path:
    from flows import default_flow

    return default_flow()
