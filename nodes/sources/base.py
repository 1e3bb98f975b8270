"""The base of every source node: backend choice, supervision, invalid-on-failure.

A source node reads one kind of hardware through a backend. ``--simulate``
(``DeviceConfig.simulate``) or ``backend: "simulated"`` picks the simulated
backend, which goes through the same transport and parsing code as the real one.
When the backend fails the node publishes every parameter as ``None`` (invalid),
logs once per state change, and retries with jittered exponential back-off;
it never disturbs other nodes.

Every blocking call on the device runs on the node's own :class:`~nodes.sources.device.DeviceThread`
(``self.device``), never in the loop's default executor; waits between readings are
timers of the runtime clock. The simulated backend and the drivers are imported only
by the backend that uses them.
"""

from __future__ import annotations

import asyncio
import importlib
import random
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, Field, ValidationError

from flowengine.errors import DeviceIOError, FlowConfigError, Problem
from flowengine.message import make_msg
from flowengine.node import Node, NodeConfig
from nodes.sources.device import DeviceThread
from nodes.sources.drivers import quiet_drivers
from nodes.sources.settings import source_settings
from nodes.sources.survey import HardwareSurvey

if TYPE_CHECKING:
    from nodes.sources.sim.vehicle import Vehicle

RETRY_FIRST = 0.5
RETRY_MAX = 30.0
#: Seconds between readings when a flow does not say: the default flow's groups report every 10 s
#: and a refresh answers from the latest values (docs/sources/rates.md has the trade-off).
DEFAULT_INTERVAL = 10.0


class SourceConfig(NodeConfig):
    backend: Literal["auto", "hardware", "simulated"] = Field(
        default="auto", description="auto: simulated under --simulate, hardware otherwise"
    )
    interval: float = Field(
        default=DEFAULT_INTERVAL,
        gt=0,
        le=3600,
        description="seconds between readings (default 10: the default groups report every 10 s)",
    )
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
        #: Set once the first attempt to open the device succeeded or failed.
        self.settled = asyncio.Event()
        quiet_drivers(self.runtime.services.device)
        self.device = DeviceThread(f"{self.type_name}:{self.id}")
        self.create_task(self._supervise(), "backend")

    async def on_close(self) -> None:
        """Stop the device thread (after the calls already queued, e.g. closing a port)."""
        device: DeviceThread | None = getattr(self, "device", None)
        if device is not None and not await device.stopped():
            self.log.warning("device thread did not stop in time; left behind")

    async def run_backend(self) -> None:
        """Open the backend and publish readings until cancelled; raise on failure."""
        raise NotImplementedError

    async def simulator(self, *modules: str) -> Vehicle:
        """The runtime's simulated vehicle, once the simulator ``modules`` are imported.

        The imports run on the device thread, not on the loop, so a simulated source that
        starts does not hold up the first answers; the vehicle is shared on the loop.
        """
        await self.device.call(_import_all, ("nodes.sources.sim.vehicle", *modules))
        from nodes.sources.sim.vehicle import shared_vehicle

        return shared_vehicle(self.runtime)

    def publish(self, values: dict[str, Any], ts: int | None = None) -> None:
        """Send fresh values (full Appendix A keys) with ``<prefix>.ts`` stamps."""
        stamp = int(self.clock.time()) if ts is None else ts
        payload = dict(values)
        for prefix in self.prefixes:
            payload.setdefault(f"{prefix}.ts", stamp)
        self.mark_healthy()
        self.send(make_msg(payload, topic=self.source_name))

    def publish_invalid(self) -> None:
        """Every parameter of this source becomes None (invalid)."""
        self.send(make_msg({k: None for k in self.keys}, topic=self.source_name))

    async def until_settled(self, seconds: float) -> None:
        """Wait (at most ``seconds`` of the clock) until the first attempt to open the device ended."""
        if self.settled.is_set():
            return
        settled = asyncio.ensure_future(self.settled.wait())
        timer = asyncio.ensure_future(self.clock.sleep(seconds))
        try:
            await asyncio.wait({settled, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            settled.cancel()
            timer.cancel()

    def mark_healthy(self) -> None:
        if self.healthy is None:
            self._survey(None)
            self.settled.set()
        if self.healthy is not True:
            if self.healthy is False:
                self.log.info("recovered after %d failure(s)", self.failures)
            self.healthy = True
            self.failures = 0
            self.status("green", "dot", "simulated" if self.simulated else "ok")

    def fail(self, exc: Exception) -> None:
        """From a callback on the loop (a streamed reading): end the running backend with ``exc``."""
        failure = getattr(self, "_failure", None)
        if failure is not None and not failure.done():
            failure.set_exception(exc)

    async def _run_once(self) -> None:
        """One run of the backend, ended by its own failure or by :meth:`fail`."""
        self._failure: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        backend = asyncio.ensure_future(self.run_backend())
        try:
            await asyncio.wait({backend, self._failure}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not backend.done():
                backend.cancel()
                await asyncio.gather(backend, return_exceptions=True)
        if self._failure.done():
            self._failure.result()
        backend.result()

    async def _supervise(self) -> None:
        """Run the backend forever; a failure, or a return (a backend never ends by itself), backs off."""
        delay = RETRY_FIRST
        while True:
            try:
                await self._run_once()
                raise DeviceIOError("backend stopped without an error")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.healthy:  # it worked before failing: the back-off starts over
                    delay = RETRY_FIRST
                self._failed(exc, delay)
            await self.clock.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, RETRY_MAX)

    def _failed(self, exc: Exception, delay: float) -> None:
        self.failures += 1
        quiet = self.healthy is None and not self.simulated  # found nothing at start: the survey's line says it
        if self.healthy is None:
            self._survey(str(exc) or type(exc).__name__)
            self.settled.set()
        if quiet:
            self.log.info("no device (%s: %s); values invalid, retrying with back-off", type(exc).__name__, exc)
        elif self.healthy is not False:
            self.log.warning("backend failed (%s: %s); values invalid, retrying with back-off", type(exc).__name__, exc)
        if self.healthy is not False:
            self.status("red", "ring", str(exc)[:60] or type(exc).__name__)
            self.healthy = False
            self.publish_invalid()
        self.log.debug("retry in %.1fs after %s", delay, exc)

    def _survey(self, problem: str | None) -> None:
        """Tell the start-up survey how this source's first attempt went (hardware backends only)."""
        if not self.simulated:
            self.runtime.services.shared(HardwareSurvey, HardwareSurvey).report(self.id, self.source_name, problem)


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        importlib.import_module(name)
