"""The base of every source node: backend choice, supervision, invalid-on-failure.

A source node reads one kind of hardware through a backend. ``--simulate``
(``DeviceConfig.simulate``) or ``backend: "simulated"`` picks the simulated
backend, which goes through the same transport and parsing code as the real one.
When the backend fails the node publishes every parameter as ``None`` (invalid),
logs once per state change, and retries with jittered exponential back-off;
it never disturbs other nodes.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, ValidationError

from flowengine.errors import DeviceIOError, FlowConfigError, Problem
from flowengine.message import make_msg
from flowengine.node import Node, NodeConfig
from nodes.sources.settings import source_settings

RETRY_FIRST = 0.5
RETRY_MAX = 30.0


class SourceConfig(NodeConfig):
    backend: Literal["auto", "hardware", "simulated"] = Field(
        default="auto", description="auto: simulated under --simulate, hardware otherwise"
    )
    interval: float = Field(default=1.0, gt=0, le=3600, description="seconds between readings")
    section: str = Field(
        default="", description="device config section with hardware settings (default: the source name)"
    )


class SourceNode(Node[SourceConfig]):
    """Base of the hardware sources; subclasses implement :meth:`run_backend`."""

    Config: ClassVar[type[NodeConfig]] = SourceConfig
    accepts_input = False
    #: Group prefix(es) this source fills, e.g. ("gnss",) or ("modem1", "cellular1").
    prefixes: ClassVar[tuple[str, ...]] = ()
    #: Every key this source provides (without ``.ts``), published as None when invalid.
    keys: ClassVar[tuple[str, ...]] = ()
    #: Pydantic model of the device config section; checked in ``on_start`` before hardware opens.
    Settings: ClassVar[type[BaseModel] | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.healthy: bool | None = None
        self.failures = 0

    @property
    def source_name(self) -> str:
        return self.prefixes[0] if self.prefixes else self.type_name

    @classmethod
    def device_settings(cls) -> tuple[str, type[BaseModel]] | None:
        if cls.Settings is None:
            return None
        return f"sources.{cls.prefixes[0] if cls.prefixes else cls.type_name}", cls.Settings

    @classmethod
    def check_device(cls, device: Any, config: NodeConfig, node_id: str) -> list[Problem]:
        """The hardware section is checked with the flows, before any source opens hardware."""
        if cls.Settings is None:
            return []
        section = config.section or (cls.prefixes[0] if cls.prefixes else cls.type_name)  # type: ignore[attr-defined]
        try:
            cls.Settings.model_validate(source_settings(device, section))
        except ValidationError as exc:
            return [
                Problem(f"sources.{section}", node_id, ".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()
            ]
        return []

    def settings(self) -> dict[str, Any]:
        """The device config section for this source (``{}`` when there is none)."""
        return source_settings(self.runtime.services.device, self.section_name)

    @property
    def section_name(self) -> str:
        return self.config.section or self.source_name  # type: ignore[attr-defined,no-any-return]

    def checked_settings(self) -> Any:
        """The section validated by :attr:`Settings`; errors name ``sources.<section>.<field>``."""
        assert self.Settings is not None
        try:
            return self.Settings.model_validate(self.settings())
        except ValidationError as exc:
            where = f"sources.{self.section_name}"
            problems = [Problem(where, self.id, ".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()]
            raise FlowConfigError(problems) from None

    @property
    def simulated(self) -> bool:
        backend = self.config.backend  # type: ignore[attr-defined]
        if backend != "auto":
            return bool(backend == "simulated")
        return self.runtime.services.device.simulate

    async def on_start(self) -> None:
        self.hw: Any = self.checked_settings() if self.Settings is not None else None
        self.create_task(self._supervise(), "backend")

    async def run_backend(self) -> None:
        """Open the backend and publish readings until cancelled; raise on failure."""
        raise NotImplementedError

    def publish(self, values: dict[str, Any], ts: int | None = None) -> None:
        """Send fresh values (full Appendix A keys) with ``<prefix>.ts`` stamps."""
        stamp = int(time.time()) if ts is None else ts
        payload = dict(values)
        for prefix in self.prefixes:
            payload.setdefault(f"{prefix}.ts", stamp)
        self.mark_healthy()
        self.send(make_msg(payload, topic=self.source_name))

    def publish_invalid(self) -> None:
        """Every parameter of this source becomes None (invalid)."""
        self.send(make_msg({k: None for k in self.keys}, topic=self.source_name))

    def mark_healthy(self) -> None:
        if self.healthy is not True:
            if self.healthy is False:
                self.log.info("recovered after %d failure(s)", self.failures)
            self.healthy = True
            self.failures = 0
            self.status("green", "dot", "simulated" if self.simulated else "ok")

    async def _supervise(self) -> None:
        """Run the backend forever; a failure, or a return (a backend never ends by itself), backs off."""
        delay = RETRY_FIRST
        while True:
            try:
                await self.run_backend()
                raise DeviceIOError("backend stopped without an error")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.healthy:  # it worked before failing: the back-off starts over
                    delay = RETRY_FIRST
                self._failed(exc, delay)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, RETRY_MAX)

    def _failed(self, exc: Exception, delay: float) -> None:
        self.failures += 1
        if self.healthy is not False:
            self.log.warning("backend failed (%s: %s); values invalid, retrying with back-off", type(exc).__name__, exc)
            self.status("red", "ring", str(exc)[:60] or type(exc).__name__)
            self.healthy = False
            self.publish_invalid()
        self.log.debug("retry in %.1fs after %s", delay, exc)


async def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run blocking I/O (pyserial, python-can, sysfs) off the event loop."""
    return await asyncio.to_thread(fn, *args)
