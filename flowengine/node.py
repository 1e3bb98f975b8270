"""The base node: owns inbox, logging, status and error routing.

A node type subclasses :class:`Node`, declares a pydantic ``Config`` and
implements only what is particular to it (``on_start``, ``on_input``,
``on_close``), in the template-method style of python-can's ``BusABC``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from flowengine.errors import NodeError, Problem
from flowengine.message import Msg, clone, make_msg

if TYPE_CHECKING:
    from flowengine.clock import Clock
    from flowengine.context import Context
    from flowengine.flowfile import NodeSpec
    from flowengine.graph import Graph
    from flowengine.runtime import Runtime

#: Messages a node may have waiting before the oldest is dropped (counted, logged).
DEFAULT_INBOX_LIMIT = 10_000
#: A node's synchronous message handling longer than this is logged: it stalled every other node.
BLOCKING_WARN_SECONDS = 0.25


class NodeConfig(BaseModel):
    """Base of every node type's configuration; unknown Node-RED properties are tolerated."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


ConfigT = TypeVar("ConfigT", bound=NodeConfig)


class NodeRef:
    """Marks a config field as the id of another node (``Annotated[str, NodeRef("mqtt-broker")]``)."""

    def __init__(self, *types: str, many: bool = False) -> None:
        self.types = types
        self.many = many


class _NodeLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"[{self.extra['node']}] {msg}", kwargs  # type: ignore[index]


class Node(Generic[ConfigT]):
    """A running node. Subclasses set ``Config``, ``outputs`` and the ``on_*`` hooks.

    A node type names its config model twice: as the type argument, which types
    ``self.config``, and as ``Config``, which the graph validates flow properties
    with: ``class DelayNode(Node[DelayConfig]): Config = DelayConfig``.
    """

    Config: ClassVar[type[NodeConfig]] = NodeConfig
    #: Number of output ports; see :meth:`output_count` for config-dependent types.
    outputs: ClassVar[int] = 1
    #: False for config nodes and sources that take no input.
    accepts_input: ClassVar[bool] = True
    close_timeout: ClassVar[float] = 5.0
    inbox_limit: ClassVar[int] = DEFAULT_INBOX_LIMIT
    type_name: ClassVar[str] = ""

    def __init__(self, spec: NodeSpec, config: ConfigT, runtime: Runtime) -> None:
        self.id = spec.id
        self.spec = spec
        self.config: ConfigT = config
        self.runtime = runtime
        self.name = spec.name
        self.log = _NodeLog(logging.getLogger(f"flowengine.node.{spec.type}"), {"node": f"{spec.type}:{spec.id}"})
        self.dropped = 0
        self.blocked = 0
        self._inbox: deque[Msg] = deque()
        self._wakeup = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._worker: asyncio.Task[None] | None = None
        self._handling = False
        self._closed = False
        self.last_status: dict[str, Any] = {}

    @classmethod
    def output_count(cls, config: NodeConfig) -> int:
        """Output ports for this configuration (switch: one per rule)."""
        return cls.outputs

    @classmethod
    def device_settings(cls) -> tuple[str, type[BaseModel]] | None:
        """The device config table this node type reads (dotted path) and its model, for the node reference."""
        return None

    @classmethod
    def check_device(cls, device: Any, config: NodeConfig, node_id: str) -> list[Problem]:
        """Problems with the device config this node would use, found before anything starts.

        ``device`` is the :class:`~flowengine.config.DeviceConfig` (``None`` outside the agent).
        """
        return []

    @classmethod
    def check_graph(cls, graph: Graph, node_id: str, device: Any) -> list[Problem]:
        """Problems this node finds with the rest of the graph it would run in (nodes that would
        compete with it for the same input, say); ``level="info"`` ones are notes, not errors.

        Runs after every node's config, wires and references were checked; ``device`` as in
        :meth:`check_device`.
        """
        return []

    # -- hooks a node type implements -------------------------------------------------

    async def on_start(self) -> None:
        """Open resources. Called once before any message arrives."""

    def on_input(self, msg: Msg) -> Awaitable[None] | None:
        """Handle one message; may be sync or async. Raising routes to catch nodes."""
        return None

    async def on_close(self) -> None:
        """Release resources opened in ``on_start``."""

    def on_deployed(self, started: set[str]) -> None:
        """A deploy finished; ``started`` are the ids of the nodes it (re)started (this one may be among them)."""

    # -- lifecycle (engine-owned) -----------------------------------------------------

    async def start(self) -> None:
        await self.on_start()
        if self.accepts_input:
            self._worker = asyncio.get_running_loop().create_task(self._drain(), name=f"node:{self.id}")

    async def close(self) -> None:
        """Stop the node; idempotent, bounded by ``close_timeout``."""
        if self._closed:
            return
        self._closed = True
        tasks = [t for t in (self._worker, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await asyncio.wait_for(self.on_close(), self.close_timeout)
        except TimeoutError:
            self.log.warning("close took longer than %.1fs; abandoned", self.close_timeout)
        except Exception:
            self.log.exception("close failed")

    @property
    def closed(self) -> bool:
        return self._closed

    # -- messages ---------------------------------------------------------------------

    def receive(self, msg: Msg) -> None:
        """Queue a message for this node (never blocks; drops the oldest when full)."""
        if self._closed:
            return
        if len(self._inbox) >= self.inbox_limit:
            self._inbox.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                self.log.warning("inbox full (%d): dropped %d oldest message(s)", self.inbox_limit, self.dropped)
        self._inbox.append(msg)
        self._wakeup.set()

    @property
    def pending(self) -> int:
        """Messages waiting in the inbox."""
        return len(self._inbox)

    @property
    def idle(self) -> bool:
        """Nothing waiting and nothing being handled."""
        return not self._inbox and not self._handling

    @property
    def offloaded(self) -> bool:
        """Work of this node is under way outside the event loop (another process); it ends in real time."""
        return False

    def send(self, msg: Msg | list[Any] | None, port: int = 0) -> None:
        """Send one message to ``port``, or a list with one entry per output port."""
        if msg is None:
            return
        if isinstance(msg, dict):
            self.runtime.route(self, [(port, msg)])
            return
        pairs: list[tuple[int, Msg]] = []
        for index, entry in enumerate(msg):
            for item in entry if isinstance(entry, list) else [entry]:
                if item is not None:
                    pairs.append((index, item))
        self.runtime.route(self, pairs)

    def send_to(self, targets: set[str], msg: Msg, port: int = 0) -> None:
        """Send ``msg`` on ``port`` to those of its wired targets whose ids are in ``targets`` only."""
        self.runtime.route_to(self, port, targets, msg)

    async def _drain(self) -> None:
        while True:
            while not self._inbox:
                self._wakeup.clear()
                await self._wakeup.wait()
            msg = self._inbox.popleft()
            self._handling = True
            try:
                started = time.perf_counter()
                result = self.on_input(msg)
                self._check_blocking(time.perf_counter() - started)
                if result is not None and inspect.isawaitable(result):
                    await result
                self.runtime.report_complete(self, msg)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a node's failure never stops the runtime
                self.error(exc, msg)
            finally:
                self._handling = False

    def _check_blocking(self, seconds: float) -> None:
        """Name a node whose synchronous handling held the event loop (every other node waited)."""
        if seconds >= BLOCKING_WARN_SECONDS:
            self.blocked += 1
            if self.blocked == 1 or self.blocked % 100 == 0:
                self.log.warning(
                    "handling a message blocked the event loop for %.2fs (%d time(s)); "
                    "do blocking work in a thread (asyncio.to_thread)",
                    seconds,
                    self.blocked,
                )

    # -- status, errors, context, tasks ----------------------------------------------

    def status(self, fill: str | None = None, shape: str | None = None, text: str = "") -> None:
        """Show a status (Node-RED's ``node.status``); reaches ``status`` nodes."""
        status = {k: v for k, v in (("fill", fill), ("shape", shape), ("text", text)) if v}
        if status == self.last_status:
            return
        self.last_status = status
        self.runtime.report_status(self, status)

    def error(self, error: BaseException | str, msg: Msg | None = None) -> None:
        """Log a failure with the node id and route it to ``catch`` nodes."""
        text = str(error) or type(error).__name__
        if isinstance(error, BaseException) and not isinstance(error, NodeError):
            self.log.error("%s: %s", type(error).__name__, text, exc_info=error)
        else:
            self.log.error("%s", text)
        self.status("red", "ring", text[:60])
        self.runtime.report_error(self, text, clone(msg) if msg is not None else make_msg())

    def env_get(self, name: str) -> Any:
        """An environment value as Node-RED's ``env.get`` sees it (tab env, then the allowed process env)."""
        return self.runtime.env_value(self, name)

    def context(self, scope: str = "node") -> Context:
        """The node, flow or global context store."""
        return self.runtime.contexts.get(scope, self)

    def create_task(self, coro: Coroutine[Any, Any, Any], name: str = "") -> asyncio.Task[Any]:
        """A task owned by this node: cancelled on close, its failure reported."""
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.id}:{name or 'task'}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.error(task.exception())  # type: ignore[arg-type]

    @property
    def clock(self) -> Clock:
        """The runtime's clock: every timer, sleep and timestamp of a node comes from it."""
        return self.runtime.clock

    def later(self, seconds: float, action: Callable[[], Any], name: str = "later") -> asyncio.Task[Any]:
        """Run ``action`` once after ``seconds`` unless the node closes first (cancel the task to drop it)."""

        async def wait_then_act() -> None:
            await self.clock.sleep(seconds)
            result = action()
            if inspect.isawaitable(result):
                await result

        return self.create_task(wait_then_act(), name)

    def every(self, seconds: float, action: Callable[[], Any], name: str = "timer") -> asyncio.Task[Any]:
        """Run ``action`` every ``seconds`` until the node closes.

        Ticks stay on their grid (no drift). Ticks missed while the event loop was
        stalled are skipped, not fired in a burst: a late tick fires once.
        """

        async def tick_forever() -> None:
            due = self.clock.now()
            while True:
                due = next_tick(due, seconds, self.clock.now())
                await self.clock.sleep(due - self.clock.now())
                try:
                    result = action()
                    if inspect.isawaitable(result):
                        await result
                except Exception as exc:
                    self.error(exc)

        return self.create_task(tick_forever(), name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"


def next_tick(previous: float, period: float, now: float) -> float:
    """The tick after ``previous`` on a ``period`` grid; ticks already past ``now`` are skipped."""
    due = previous + period
    if due <= now:
        due += (math.floor((now - due) / period) + 1) * period
        if due <= now:  # rounding
            due += period
    return due
