"""The link's side of an offline store: durable publishes go to disk while the broker is out of reach.

A publisher marks a message durable when losing it while offline would lose data (a periodic
report, an event); answers to a request are not, they are only worth something now. From the
moment the link is down - and, to keep the global order of durable messages, for as long as anything
still waits in the store - every durable message is written to the
:class:`~flowengine.mqtt.offline_store.OfflineStore` instead of being handed to paho. On reconnect a
:class:`~flowengine.mqtt.offline_store.Replayer` sends the stored messages oldest first, paced, and
deletes each only after the broker acknowledged it.

Every SQLite call (commits with their fsync, reads of the backlog, deletes of acknowledged messages)
runs on one worker thread, in order, so a slow card never stalls the event loop; what arrives while
a commit runs is stored together in the next one, in arrival order.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from flowengine.errors import LinkError
from flowengine.logthrottle import LogThrottle
from flowengine.mqtt.outbox import Outgoing

if TYPE_CHECKING:  # sqlite3 is imported only when an offline store is made (--offline-store)
    from flowengine.mqtt.offline_store import Entry, OfflineStore

log = logging.getLogger("flowengine.mqtt.offline")
#: One DEBUG line per durable message and what became of it ("sent", "stored", "queued"), with a digest
#: of its payload: lets an operator (and the outage tests) account for every message the device produced.
trace = logging.getLogger("flowengine.mqtt.durable")

#: Replay pacing: stored messages started per second, and publishes awaiting their PUBACK at once.
REPLAY_RATE = 50.0
REPLAY_IN_FLIGHT = 10

Send = Callable[[Outgoing], None]
Written = Callable[[list[int] | None, BaseException | None], None]


def trace_durable(topic: str, payload: bytes, outcome: str) -> None:
    if trace.isEnabledFor(logging.DEBUG):
        trace.debug("durable %s %s %s", outcome, topic, hashlib.sha1(payload).hexdigest()[:16])


@dataclass(frozen=True)
class OfflineStats:
    """Where durable messages wait while the broker is out of reach (a snapshot)."""

    mode: str  # "store" (on disk, --offline-store) or "memory" (bounded queue, lost on restart)
    waiting: int  # store: durable messages on disk or being written; memory: publishes queued
    dropped: int  # evicted because a bound was reached (store: over the store's whole life)
    bytes: int  # store: topic + payload bytes on disk (memory: 0)
    oldest_age: float | None  # store: seconds the oldest message has waited (None when empty or memory)
    replayed: int  # stored messages acknowledged by the broker since start
    lost: int  # store: messages a failed disk write could not keep (logged at ERROR)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class StoreWriter:
    """Runs the store's commits on its worker thread, in order, merging what queues up meanwhile."""

    def __init__(self, store: OfflineStore, loop: asyncio.AbstractEventLoop, executor: Executor) -> None:
        self._store, self._loop = store, loop
        self._queue: list[tuple[list[Entry], Written]] = []
        self._busy: asyncio.Future[list[int]] | None = None
        self._writing = 0
        self._executor = executor

    def __len__(self) -> int:
        """Messages accepted but not yet committed."""
        return self._writing + sum(len(entries) for entries, _ in self._queue)

    def write(self, entries: list[Entry], done: Written) -> None:
        """Commit ``entries`` after everything written before; ``done(ids, error)`` runs on the loop."""
        self._queue.append((entries, done))
        if self._busy is None:
            self._start()

    async def drain(self) -> None:
        while self._busy is not None:
            await asyncio.wait([self._busy])
            await asyncio.sleep(0)  # let the done callback start the next commit

    def _start(self) -> None:
        jobs, self._queue = self._queue, []
        entries = [entry for batch, _ in jobs for entry in batch]
        self._writing = len(entries)
        self._busy = self._loop.run_in_executor(self._executor, self._store.put_many, entries)
        self._busy.add_done_callback(lambda f: self._finished(jobs, f))

    def _finished(self, jobs: list[tuple[list[Entry], Written]], fut: asyncio.Future[list[int]]) -> None:
        self._busy, self._writing = None, 0
        error = asyncio.CancelledError() if fut.cancelled() else fut.exception()
        ids = [] if error is not None else fut.result()
        pos = 0
        for entries, done in jobs:
            done(None if error else ids[pos : pos + len(entries)], error)
            pos += len(entries)
        if self._queue:
            self._start()


class DurableSpool:
    """The offline store as the link uses it: route, write, replay on connect, rescue on disconnect.

    ``send`` hands one publish to the link (on the loop thread). The link owns the spool, and the
    spool owns the store and the one thread that touches it: :meth:`close` closes both.
    """

    def __init__(self, store: OfflineStore, send: Send, *, rate: float | None = REPLAY_RATE) -> None:
        from flowengine.mqtt.offline_store import Replayer

        self.store = store
        self._send = send
        self._rate = rate
        self._writer: StoreWriter | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="offline-store")
        self._replayer = Replayer(
            store, self._publish_stored, max_in_flight=REPLAY_IN_FLIGHT, rate=rate, executor=self._executor
        )
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected = self._closed = False
        self._lost = 0
        self._log = LogThrottle(log)  # a full disk fails every write: one line a minute says how many

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._writer = StoreWriter(self.store, loop, self._executor)

    @property
    def busy(self) -> bool:
        """Something waits on disk or is being written: new info messages queue behind it."""
        return bool(len(self.store) or (self._writer is not None and len(self._writer)))

    def wants(self, item: Outgoing, connected: bool) -> bool:
        """Whether a publish goes to the store rather than straight to the broker."""
        return item.durable and (not connected or self.busy)

    def put(self, item: Outgoing) -> None:
        """Store a durable message; its future settles once it is on disk (the store owns it then)."""
        size = len(item.topic.encode()) + len(item.payload)
        if size > self.store.max_bytes:
            self._lose([item], LinkError(f"payload: {size} bytes for {item.topic} exceed offline_max_bytes"))
            return
        item.stored = True
        self._write([item], lambda ids: self._stored(item))

    def rescue(self, items: list[Outgoing]) -> list[Outgoing]:
        """Keep on disk the durable publishes the broker had not acknowledged when the link dropped.

        paho resends them after reconnect; stored as well, they survive a restart or a crash before
        that. The replay waits for paho's resend before sending them again. QoS 0 ones are not resent
        by anyone else: they are returned so the link forgets them (their futures settle on disk).
        """
        keep = [item for item in items if item.durable and not item.stored]
        for item in keep:
            item.stored = True
        if keep:
            self._write(keep, lambda ids: self._rescued(keep, ids))
        return [item for item in keep if item.qos == 0]

    def connected(self) -> None:
        self._connected = True
        self._kick()

    def disconnected(self) -> None:
        self._connected = False
        if self._task is not None:
            self._task.cancel()

    def stats(self) -> OfflineStats:
        """Figures of the store from memory (no disk access); after :meth:`close` oldest_age is None."""
        store = self.store
        oldest = None if self._closed else store.oldest_age()
        waiting = len(store) + (len(self._writer) if self._writer is not None else 0)
        return OfflineStats("store", waiting, store.dropped, store.size_bytes, oldest, self._replayer.acked, self._lost)

    async def stop_replay(self) -> None:
        """Stop sending stored messages (acks already received are still deleted)."""
        self.disconnected()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def close(self) -> None:
        """Finish the writes in progress, stop the replay, close the store. Idempotent."""
        await self.stop_replay()
        self._replayer.forget()
        if self._writer is not None:
            await self._writer.drain()
        await self._replayer.drain()
        self._executor.shutdown(wait=True)
        self.store.close()
        self._closed = True

    # -- writing ----------------------------------------------------------------------------------

    def _write(self, items: list[Outgoing], on_stored: Callable[[list[int]], None]) -> None:
        if self._writer is None:
            raise LinkError("offline store used before the link started")
        entries = [(item.topic, item.payload, item.qos, item.retain) for item in items]
        self._writer.write(entries, lambda ids, error: self._lose(items, error) if ids is None else on_stored(ids))

    def _stored(self, item: Outgoing) -> None:
        trace_durable(item.topic, item.payload, "stored")
        _settle(item.future)
        self._kick()

    def _rescued(self, items: list[Outgoing], ids: list[int]) -> None:
        for item, msg_id in zip(items, ids, strict=True):
            if item.qos == 0:
                _settle(item.future)
            elif item.future is not None:
                self._replayer.adopt(msg_id, item.future)  # type: ignore[arg-type]
        self._kick()

    def _lose(self, items: list[Outgoing], error: BaseException | None) -> None:
        self._lost += len(items)
        self._log.error("lost", "offline store could not keep %d message(s): %s", len(items), error)
        for item in items:
            _fail(item.future, LinkError(f"message on {item.topic} not stored: {error}"))

    # -- replaying --------------------------------------------------------------------------------

    def _kick(self) -> None:
        """Start the replay when connected and something is stored (and it is not already running)."""
        if self._connected and len(self.store) and (self._task is None or self._task.done()):
            assert self._loop is not None
            self._task = self._loop.create_task(self._replay(), name="mqtt:offline-replay")

    async def _replay(self) -> None:
        try:
            while self._connected and len(self.store):
                if not await self._replayer.run():
                    return  # nothing acknowledged: the next write or connect starts it again
        except Exception:  # a store failure stops this replay, never the link
            log.exception("offline replay failed; it restarts with the next stored message or reconnect")

    def _publish_stored(self, topic: str, payload: bytes, qos: int, retain: bool) -> asyncio.Future[None]:
        assert self._loop is not None
        item = Outgoing(topic, payload, qos, retain, self._loop.create_future(), stored=True, durable=True)
        self._send(item)
        return item.future  # type: ignore[return-value]


def _settle(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


def _fail(future: asyncio.Future[None] | None, error: Exception) -> None:
    if future is not None and not future.done():
        future.set_exception(error)
        future.exception()
