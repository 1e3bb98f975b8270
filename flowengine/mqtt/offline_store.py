"""The Offline Data Store: info messages kept on disk while the MQTT link is down, replayed in order.

One SQLite database in WAL mode with ``synchronous=FULL``. In WAL mode ``NORMAL`` already survives a
killed process, but a commit is only fsynced at the next checkpoint, so a power cut can take back
messages the store already accepted. ``FULL`` fsyncs the WAL at every commit: a message ``put`` returned
for is on the disk as far as the OS can promise. The cost is one fsync per commit, which ``put_many``
and ``Replayer``'s batched acks spread over many messages.

Row ids come from ``AUTOINCREMENT`` so they are never reused: an ack that arrives for a message the
bounds already dropped can never delete a newer one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowengine.errors import StateError
from flowengine.state import aside_path

log = logging.getLogger("flowengine.mqtt.offline_store")

MiB = 1024 * 1024
DROP_LOG_EVERY = 1000  # after the first drop, one log line per this many
_SCHEMA_VERSION = 1
_PAGE_SIZE = 8192  # five ~1.5 KB info messages per page; 4 KiB pages fit two and waste a quarter of the file
_ACK_CHUNK = 500  # ids per DELETE statement (well under SQLite's bound-variable limit)
_FILES = ("", "-wal", "-shm")  # the database and its WAL companions
_CORRUPT_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    stored_at REAL NOT NULL,
    size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('dropped', 0)
"""

Entry = tuple[str, bytes, int, bool]  # topic, payload, qos, retain


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message waiting in the store; ``id`` is what ``ack`` takes."""

    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    stored_at: float  # wall-clock seconds (survives restarts, unlike the loop clock)


class OfflineStore:
    """A bounded, crash-safe FIFO of MQTT messages; synchronous and thread-safe.

    Bounds count ``topic`` + ``payload`` bytes (not SQLite's own overhead). When either bound is
    exceeded the oldest messages are deleted and counted in ``dropped`` (kept on disk).
    """

    def __init__(self, path: Path, max_messages: int = 100_000, max_bytes: int = 64 * MiB) -> None:
        if max_messages < 1:
            raise ValueError(f"max_messages must be at least 1, got {max_messages}")
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, got {max_bytes}")
        self.path = Path(path)
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._count = 0
        self._bytes = 0
        self._dropped = 0
        self._oldest_at: float | None = None
        self._open()

    # -- public API ---------------------------------------------------------------------------

    def put(self, topic: str, payload: bytes, qos: int, retain: bool) -> int:
        """Store one message durably and return its id."""
        return self.put_many([(topic, payload, qos, retain)])[0]

    def put_many(self, entries: Iterable[Entry]) -> list[int]:
        """Store a burst of messages in one transaction (one fsync); ids in the given order."""
        rows = [_row(*entry) for entry in entries]
        for topic, _, _, _, size in rows:
            if size > self.max_bytes:
                raise ValueError(f"payload: message for {topic!r} is {size} bytes, over max_bytes {self.max_bytes}")
        with self._lock, self._guard("store messages in"):
            db, now = self._conn(), time.time()
            count, size = self._count + len(rows), self._bytes + sum(row[4] for row in rows)
            with _transaction(db):
                ids = [_insert(db, row, now) for row in rows]
                n, freed = self._drop_oldest(db, count - self.max_messages, size - self.max_bytes)
            self._count, self._bytes = count - n, size - freed
            self._count_drops(n)
            self._oldest_at = self._read_oldest(db) if n or self._oldest_at is None else self._oldest_at
        return ids

    def peek(self, limit: int, after: int = 0) -> list[StoredMessage]:
        """Up to ``limit`` oldest messages with an id greater than ``after``; nothing is removed."""
        with self._lock, self._guard("read"):
            cur = self._conn().execute(
                "SELECT id, topic, payload, qos, retain, stored_at FROM messages WHERE id > ? ORDER BY id LIMIT ?",
                (after, limit),
            )
            return [StoredMessage(i, t, bytes(p), q, bool(r), s) for i, t, p, q, r, s in cur]

    def ack(self, ids: Iterable[int]) -> int:
        """Delete acknowledged messages; unknown ids (already acked or dropped) are ignored. Returns deleted."""
        ids = list(ids)
        if not ids:
            return 0
        with self._lock, self._guard("delete acknowledged messages from"):
            db = self._conn()
            with _transaction(db):
                sizes = [size for chunk in _chunks(ids, _ACK_CHUNK) for size in _delete(db, chunk)]
            self._count -= len(sizes)
            self._bytes -= sum(sizes)
            self._oldest_at = self._read_oldest(db)
        return len(sizes)

    def __len__(self) -> int:
        return self._count

    @property
    def size_bytes(self) -> int:
        """Topic + payload bytes currently stored."""
        return self._bytes

    @property
    def dropped(self) -> int:
        """Messages deleted unsent because a bound was reached, over the store's whole life."""
        return self._dropped

    def oldest_age(self) -> float | None:
        """Seconds the oldest stored message has waited (None when empty); from memory, no disk access."""
        oldest = self._oldest_at
        return None if oldest is None or not self._count else max(0.0, time.time() - oldest)

    def stats(self) -> dict[str, Any]:
        """Figures for status displays: stored, dropped, bytes, oldest_age (seconds, None when empty)."""
        return {"stored": self._count, "dropped": self._dropped, "bytes": self._bytes, "oldest_age": self.oldest_age()}

    @staticmethod
    def _read_oldest(db: sqlite3.Connection) -> float | None:
        row = db.execute("SELECT stored_at FROM messages ORDER BY id LIMIT 1").fetchone()
        return None if row is None else float(row[0])

    def close(self) -> None:
        """Close the database; safe to call twice."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> OfflineStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- opening and recovery -----------------------------------------------------------------

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._connect()
        except OSError as exc:
            raise StateError(f"cannot open offline store {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            if not _is_corrupt(exc):
                raise StateError(f"cannot open offline store {self.path}: {exc}") from exc
            self._move_aside(exc)
            try:
                self._db = self._connect()
            except sqlite3.Error as again:
                raise StateError(f"cannot create offline store {self.path}: {again}") from again

    def _connect(self) -> sqlite3.Connection:
        _private_file(self.path)
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        try:
            _prepare(db)
            self._count, self._bytes = db.execute("SELECT count(*), coalesce(sum(size), 0) FROM messages").fetchone()
            self._oldest_at = self._read_oldest(db)
            self._dropped = db.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()[0]
        except BaseException:
            db.close()
            raise
        return db

    def _move_aside(self, exc: Exception) -> None:
        aside = aside_path(self.path, _FILES)
        for suffix in _FILES:  # a stale WAL must not be replayed into the fresh database
            src = Path(f"{self.path}{suffix}")
            if src.exists():
                os.replace(src, f"{aside}{suffix}")
        log.error("OFFLINE STORE CORRUPT: %s (%s); moved to %s, starting an empty store", self.path, exc, aside)

    # -- writing ------------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StateError(f"offline store {self.path} is closed")
        return self._db

    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        """SQLite failures (disk full, I/O error) surface as StateError naming the store."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StateError(f"cannot {doing} offline store {self.path}: {exc}") from exc

    def _drop_oldest(self, db: sqlite3.Connection, excess_n: int, excess_b: int) -> tuple[int, int]:
        """Delete the oldest messages until both bounds hold, counted durably in the same commit."""
        last, n, freed = 0, 0, 0
        if excess_n <= 0 and excess_b <= 0:
            return 0, 0
        for msg_id, size in db.execute("SELECT id, size FROM messages ORDER BY id"):
            if n >= excess_n and freed >= excess_b:
                break
            last, n, freed = msg_id, n + 1, freed + size
        db.execute("DELETE FROM messages WHERE id <= ?", (last,))
        db.execute("UPDATE meta SET value = value + ? WHERE key = 'dropped'", (n,))
        return n, freed

    def _count_drops(self, n: int) -> None:
        if n:
            self._log_drops(self._dropped, self._dropped + n)
            self._dropped += n

    def _log_drops(self, before: int, after: int) -> None:
        if before == 0 or after // DROP_LOG_EVERY > before // DROP_LOG_EVERY:
            log.warning(
                "offline store %s full (%d messages / %d bytes max): dropped oldest, %d dropped so far",
                self.path,
                self.max_messages,
                self.max_bytes,
                after,
            )


def _insert(db: sqlite3.Connection, row: tuple[str, bytes, int, int, int], now: float) -> int:
    topic, payload, qos, retain, size = row
    cur = db.execute(
        "INSERT INTO messages (topic, payload, qos, retain, stored_at, size) VALUES (?, ?, ?, ?, ?, ?)",
        (topic, payload, qos, retain, now, size),
    )
    return int(cur.lastrowid or 0)


def _row(topic: str, payload: bytes, qos: int, retain: bool) -> tuple[str, bytes, int, int, int]:
    """Validate one message before anything is written (a bad one rejects the whole batch)."""
    if not isinstance(topic, str) or not topic:
        raise ValueError(f"topic must be a non-empty string, got {topic!r}")
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise ValueError(f"payload must be bytes, got {type(payload).__name__}")
    if qos not in (0, 1, 2):
        raise ValueError(f"qos must be 0, 1 or 2, got {qos!r}")
    payload = bytes(payload)
    return topic, payload, qos, int(bool(retain)), len(topic.encode()) + len(payload)


def _prepare(db: sqlite3.Connection) -> None:
    """WAL + FULL sync, schema, and a quick structural check; raises DatabaseError on a corrupt file."""
    db.execute(f"PRAGMA page_size={_PAGE_SIZE}")  # takes effect only on a new file
    mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise sqlite3.OperationalError(f"journal_mode WAL refused (got {mode})")
    db.execute("PRAGMA synchronous=FULL")
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version not in (0, _SCHEMA_VERSION):
        raise _corrupt(f"unknown schema version {version}")
    problems = [r[0] for r in db.execute("PRAGMA quick_check")]
    if problems != ["ok"]:
        raise _corrupt("; ".join(problems[:3]))
    if version == 0:
        with _transaction(db):
            for statement in _SCHEMA.split(";"):
                db.execute(statement)
            db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")


def _corrupt(text: str) -> sqlite3.DatabaseError:
    exc = sqlite3.DatabaseError(text)
    exc.sqlite_errorcode = sqlite3.SQLITE_CORRUPT
    return exc


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in _CORRUPT_CODES


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error (the connection runs in autocommit mode)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:  # SQLite may already have rolled back (disk full, I/O error)
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _delete(db: sqlite3.Connection, ids: Sequence[int]) -> list[int]:
    marks = ",".join("?" * len(ids))
    return [r[0] for r in db.execute(f"DELETE FROM messages WHERE id IN ({marks}) RETURNING size", ids)]


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


Publish = Callable[[str, bytes, int, bool], Awaitable[object]]  # topic, payload, qos, retain -> resolves on ack


class Replayer:
    """Sends the stored messages in order, paced, deleting each only after its publish resolved.

    At most ``max_in_flight`` publishes await their ack and at most ``rate`` start per second, so live
    traffic and responses keep flowing beside the replay. Acks are deleted in batches of ``ack_batch``
    (one fsync each); a crash between ack and delete sends those messages again, as QoS 1 allows.

    A failed publish stops new sends, lets those in flight settle, waits (doubling from ``retry_delay``
    to ``max_retry_delay``), then sweeps again from the oldest message still stored: first sends keep
    the stored order and nothing is lost. The owner cancels ``run()`` when the link drops; acks already
    received are still deleted.

    Publishes still in flight when a run was cancelled, and those handed over with :meth:`adopt`, stay
    tracked: the next ``run()`` first waits (up to ``settle_timeout``) for them to settle - the link
    resends them on reconnect - so their messages are not sent a second time.
    """

    def __init__(
        self,
        store: OfflineStore,
        publish: Publish,
        *,
        max_in_flight: int = 10,
        rate: float | None = 50.0,
        batch: int = 100,
        ack_batch: int = 50,
        retry_delay: float = 1.0,
        max_retry_delay: float = 30.0,
        settle_timeout: float = 10.0,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        executor: Executor | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be positive or None, got {rate}")
        self._store, self._publish = store, publish
        self._max_in_flight, self._batch, self._ack_batch = max_in_flight, max(1, batch), max(1, ack_batch)
        self._interval = 0.0 if rate is None else 1.0 / rate
        self._retry_delay, self._max_retry_delay = retry_delay, max_retry_delay
        self._delay = retry_delay
        self._settle_timeout = settle_timeout
        self._clock, self._sleep = clock, sleep
        self._executor = executor
        self._acking: asyncio.Future[object] | None = None
        self._in_flight: set[asyncio.Future[object]] = set()
        self._room = asyncio.Event()
        self._acked_ids: list[int] = []
        self._failure: BaseException | None = None
        self._next_at = 0.0
        self.sent = self.acked = self.failed = 0

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def adopt(self, msg_id: int, future: asyncio.Future[object]) -> None:
        """Track a publish of stored message ``msg_id`` sent by someone else: its ack deletes the message."""
        self._in_flight.add(future)
        future.add_done_callback(lambda f: self._settled(msg_id, f))

    def forget(self) -> None:
        """Delete what was acknowledged so far, then stop tracking what is in flight (the owner is closing)."""
        self._flush_acks()
        self._in_flight.clear()

    async def run(self) -> int:
        """Replay until the store is empty; returns how many messages were acknowledged in this run."""
        loop = asyncio.get_running_loop()
        self._clock = self._clock or loop.time
        start = self.acked
        try:
            await self._settle()
            while True:
                sent = self.sent
                if await self._sweep():
                    await self._sleep(self._next_delay())
                elif self.sent == sent or not len(self._store):
                    return self.acked - start
        finally:
            self._flush_acks()

    async def drain(self) -> None:
        """Wait until the deletes of acknowledged messages handed to the store thread are done."""
        while self._acking is not None and not self._acking.done():
            await asyncio.wait([self._acking])

    async def _settle(self) -> None:
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=self._settle_timeout)
        self._flush_acks()

    async def _store_call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a store call on the store's own thread (or here without one: tests of the replayer alone)."""
        if self._executor is None:
            return fn(*args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _sweep(self) -> bool:
        """Send everything stored, oldest first; True when a publish failed (sweep again later)."""
        self._failure, cursor = None, 0
        while self._failure is None and (batch := await self._store_call(self._store.peek, self._batch, cursor)):
            for msg in batch:
                await self._wait_for_room()
                if self._failure is not None:
                    break
                await self._pace()
                self._send(msg)
                cursor = msg.id
        while self._in_flight:
            await asyncio.wait(set(self._in_flight))
        self._flush_acks()
        await self._acked()
        return self._failure is not None

    async def _wait_for_room(self) -> None:
        while len(self._in_flight) >= self._max_in_flight:
            self._room.clear()
            await self._room.wait()
        if len(self._acked_ids) >= self._ack_batch:
            self._flush_acks()  # here, not in the done callback, so a store error reaches run()'s caller

    async def _pace(self) -> None:
        assert self._clock is not None
        now = self._clock()
        if self._next_at > now:
            await self._sleep(self._next_at - now)
            now = self._next_at
        self._next_at = now + self._interval

    def _send(self, msg: StoredMessage) -> None:
        try:
            fut = asyncio.ensure_future(self._publish(msg.topic, msg.payload, msg.qos, msg.retain))
        except Exception as exc:  # a publish that refuses at once is a failure like any other
            self._fail(msg.id, exc)
            return
        self.sent += 1
        self._in_flight.add(fut)
        fut.add_done_callback(lambda f: self._settled(msg.id, f))

    def _settled(self, msg_id: int, fut: asyncio.Future[object]) -> None:
        if fut not in self._in_flight:
            return  # forgotten
        self._in_flight.discard(fut)
        self._room.set()
        exc = asyncio.CancelledError() if fut.cancelled() else fut.exception()
        if exc is not None:
            self._fail(msg_id, exc)
            return
        self.acked += 1
        self._delay = self._retry_delay
        self._acked_ids.append(msg_id)

    def _fail(self, msg_id: int, exc: BaseException) -> None:
        self.failed += 1
        if self._failure is None:
            log.warning("offline replay: publish of stored message %d failed (%s); will retry", msg_id, exc)
        self._failure = self._failure or exc

    def _next_delay(self) -> float:
        delay, self._delay = self._delay, min(self._delay * 2, self._max_retry_delay)
        return delay

    def _flush_acks(self) -> None:
        """Delete what was acknowledged, in order on the store's thread (a commit with an fsync)."""
        if not self._acked_ids:
            return
        ids, self._acked_ids = self._acked_ids, []
        if self._executor is None:
            self._store.ack(ids)
            return
        self._acking = asyncio.get_running_loop().run_in_executor(self._executor, self._store.ack, ids)

    async def _acked(self) -> None:
        """Wait for the last delete; a store error surfaces here, to ``run()``'s caller."""
        if self._acking is not None:
            acking, self._acking = self._acking, None
            await acking


def _private_file(path: Path) -> None:
    """The store holds positions: owner-only (0600), as the state files; SQLite gives its WAL the same mode."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise sqlite3.DatabaseError(f"{path} is not a regular file")
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
