"""OfflineStore: order, bounds, ack semantics, reopen, kill -9 of a writer, corrupt files."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from flowengine.errors import StateError
from flowengine.mqtt import offline_store
from flowengine.mqtt.offline_store import OfflineStore

TOPIC = "v1/dev1/summary/info"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "offline.db"


@pytest.fixture
def store(db_path: Path):
    s = OfflineStore(db_path)
    yield s
    s.close()


def payloads(store: OfflineStore) -> list[bytes]:
    return [m.payload for m in store.peek(1_000_000)]


def test_peek_returns_oldest_first_with_every_field(store: OfflineStore) -> None:
    a = store.put(TOPIC, b"one", 1, False)
    b = store.put("v1/dev1/gnss/info", b"two", 0, True)
    first, second = store.peek(10)
    assert (first.id, first.topic, first.payload, first.qos, first.retain) == (a, TOPIC, b"one", 1, False)
    assert (second.id, second.topic, second.payload, second.qos, second.retain) == (
        b,
        "v1/dev1/gnss/info",
        b"two",
        0,
        True,
    )
    assert a < b
    assert first.stored_at <= second.stored_at


def test_peek_limit_and_after_page_through_in_order(store: OfflineStore) -> None:
    ids = store.put_many([(TOPIC, str(i).encode(), 1, False) for i in range(10)])
    page1 = store.peek(4)
    page2 = store.peek(4, after=page1[-1].id)
    assert [m.id for m in page1 + page2] == ids[:8]
    assert len(store) == 10


def test_put_many_returns_ids_in_given_order(store: OfflineStore) -> None:
    ids = store.put_many([(TOPIC, b"a", 1, False), (TOPIC, b"b", 1, False), (TOPIC, b"c", 1, False)])
    assert ids == sorted(ids)
    assert payloads(store) == [b"a", b"b", b"c"]


def test_count_bound_drops_oldest_and_counts(db_path: Path) -> None:
    with OfflineStore(db_path, max_messages=3) as s:
        for i in range(5):
            s.put(TOPIC, b"m%d" % i, 1, False)
        assert payloads(s) == [b"m2", b"m3", b"m4"]
        assert len(s) == 3
        assert s.dropped == 2


def test_byte_bound_drops_oldest_until_it_fits(db_path: Path) -> None:
    topic = "t"  # 1 byte, so each message below is 1 + 30 = 31 bytes
    with OfflineStore(db_path, max_bytes=100) as s:
        for i in range(5):
            s.put(topic, bytes([i]) * 30, 1, False)
        assert [p[0] for p in payloads(s)] == [2, 3, 4]
        assert s.size_bytes == 93
        assert s.dropped == 2


def test_burst_larger_than_bound_keeps_the_newest(db_path: Path) -> None:
    with OfflineStore(db_path, max_messages=10) as s:
        ids = s.put_many([(TOPIC, b"%d" % i, 1, False) for i in range(25)])
        assert [m.id for m in s.peek(100)] == ids[15:]
        assert s.dropped == 15


def test_dropped_counter_survives_reopen(db_path: Path) -> None:
    with OfflineStore(db_path, max_messages=2) as s:
        s.put_many([(TOPIC, b"x", 1, False)] * 5)
    with OfflineStore(db_path, max_messages=2) as s:
        assert s.dropped == 3
        assert s.stats()["dropped"] == 3


def test_drops_logged_first_then_every_n(db_path: Path, caplog, monkeypatch) -> None:
    monkeypatch.setattr(offline_store, "DROP_LOG_EVERY", 10)
    caplog.set_level(logging.WARNING, logger="flowengine.mqtt.offline_store")
    with OfflineStore(db_path, max_messages=1) as s:
        for _ in range(26):  # 25 drops: logged at the 1st, 10th and 20th
            s.put(TOPIC, b"x", 1, False)
    drops = [r.getMessage() for r in caplog.records if "dropped oldest" in r.getMessage()]
    assert [m.rsplit(", ", 1)[1] for m in drops] == ["1 dropped so far", "10 dropped so far", "20 dropped so far"]


def test_oversized_message_is_refused_and_nothing_lost(db_path: Path) -> None:
    with OfflineStore(db_path, max_bytes=50) as s:
        s.put("t", b"keep", 1, False)
        with pytest.raises(ValueError, match="max_bytes"):
            s.put("t", b"x" * 60, 1, False)
        assert payloads(s) == [b"keep"]
        assert s.dropped == 0


@pytest.mark.parametrize(
    ("entry", "field"),
    [(("", b"x", 1, False), "topic"), ((TOPIC, "text", 1, False), "payload"), ((TOPIC, b"x", 3, False), "qos")],
)
def test_bad_message_rejects_the_whole_batch(store: OfflineStore, entry, field) -> None:
    with pytest.raises(ValueError, match=field):
        store.put_many([(TOPIC, b"good", 1, False), entry])
    assert len(store) == 0


def test_ack_deletes_only_the_given_ids(store: OfflineStore) -> None:
    ids = store.put_many([(TOPIC, b"%d" % i, 1, False) for i in range(5)])
    assert store.ack([ids[0], ids[2]]) == 2
    assert payloads(store) == [b"1", b"3", b"4"]
    assert len(store) == 3
    assert store.size_bytes == 3 * (len(TOPIC) + 1)


def test_ack_of_unknown_or_repeated_ids_is_harmless(store: OfflineStore) -> None:
    ids = store.put_many([(TOPIC, b"a", 1, False), (TOPIC, b"b", 1, False)])
    store.ack([ids[0]])
    assert store.ack([ids[0], 999_999]) == 0
    assert store.ack([]) == 0
    assert payloads(store) == [b"b"]


def test_ack_of_many_ids_at_once(store: OfflineStore) -> None:
    ids = store.put_many([(TOPIC, b"x", 1, False)] * 2000)
    assert store.ack(ids[:1500]) == 1500
    assert len(store) == 500


def test_reopen_after_close_keeps_messages_counts_and_order(db_path: Path) -> None:
    with OfflineStore(db_path) as s:
        ids = s.put_many([(TOPIC, b"%d" % i, 1, i % 2 == 0) for i in range(20)])
        s.ack(ids[:5])
    with OfflineStore(db_path) as s:
        assert [m.id for m in s.peek(100)] == ids[5:]
        assert len(s) == 15
        assert s.size_bytes == sum(len(TOPIC) + len(b"%d" % i) for i in range(5, 20))


def test_ids_never_reused_after_everything_was_acked(db_path: Path) -> None:
    with OfflineStore(db_path) as s:
        ids = s.put_many([(TOPIC, b"x", 1, False)] * 3)
        s.ack(ids)
    with OfflineStore(db_path) as s:
        assert s.put(TOPIC, b"y", 1, False) > ids[-1]


def test_stats(store: OfflineStore) -> None:
    assert store.stats() == {"stored": 0, "dropped": 0, "bytes": 0, "oldest_age": None}
    store.put(TOPIC, b"12345", 1, False)
    stats = store.stats()
    assert stats["stored"] == 1
    assert stats["bytes"] == len(TOPIC) + 5
    assert stats["oldest_age"] >= 0


def test_closed_store_raises_state_error_and_close_is_idempotent(db_path: Path) -> None:
    s = OfflineStore(db_path)
    s.close()
    s.close()
    with pytest.raises(StateError, match="closed"):
        s.put(TOPIC, b"x", 1, False)


def test_concurrent_writers_lose_nothing(store: OfflineStore) -> None:
    def writer(n: int) -> None:
        for i in range(50):
            store.put(f"t/{n}", b"%d" % i, 1, False)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = store.peek(1000)
    assert len(store) == len(stored) == 200
    for n in range(4):  # each writer's messages keep their order
        assert [m.payload for m in stored if m.topic == f"t/{n}"] == [b"%d" % i for i in range(50)]


def test_unopenable_path_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StateError, match="offline store"):
        OfflineStore(tmp_path / "file" / "offline.db")


# -- corrupt files ---------------------------------------------------------------------------


def test_garbage_file_is_moved_aside_loudly_and_a_fresh_store_starts(db_path: Path, caplog) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not a database at all" * 200)
    Path(f"{db_path}-wal").write_bytes(b"stale wal")
    with caplog.at_level(logging.ERROR, logger="flowengine.mqtt.offline_store"), OfflineStore(db_path) as s:
        assert len(s) == 0
        s.put(TOPIC, b"fresh", 1, False)
        assert payloads(s) == [b"fresh"]
    assert any("OFFLINE STORE CORRUPT" in r.getMessage() for r in caplog.records)
    aside = sorted(db_path.parent.glob("offline.db.corrupt-*"))
    assert aside[0].read_bytes().startswith(b"this is not a database")
    with OfflineStore(db_path) as s:  # the stale WAL was not replayed into the fresh store
        assert payloads(s) == [b"fresh"]


def test_damaged_pages_are_moved_aside(db_path: Path, caplog) -> None:
    with OfflineStore(db_path) as s:
        s.put_many([(TOPIC, os.urandom(3000), 1, False) for _ in range(200)])
    raw = bytearray(db_path.read_bytes())
    page = int.from_bytes(raw[16:18], "big")  # the page size, from the SQLite file header
    assert len(raw) > 20 * page
    raw[page : 4 * page] = b"\xff" * (3 * page)  # wipe the b-tree pages after the schema page
    db_path.write_bytes(bytes(raw))
    with caplog.at_level(logging.ERROR, logger="flowengine.mqtt.offline_store"), OfflineStore(db_path) as s:
        assert len(s) == 0
    assert any("OFFLINE STORE CORRUPT" in r.getMessage() for r in caplog.records)
    assert list(db_path.parent.glob("offline.db.corrupt-*"))


def test_second_corruption_does_not_overwrite_the_first(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    for text in (b"first bad file", b"second bad file"):
        db_path.write_bytes(text * 100)
        OfflineStore(db_path).close()
    kept = sorted(p.read_bytes()[:15] for p in db_path.parent.glob("offline.db.corrupt-*"))
    assert kept == [b"first bad filef", b"second bad file"]


def test_unknown_schema_version_is_moved_aside(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as db:
        db.execute("PRAGMA user_version=99")
    with OfflineStore(db_path) as s:
        assert len(s) == 0
    assert list(db_path.parent.glob("offline.db.corrupt-*"))


# -- kill -9 of a writing process ------------------------------------------------------------

WRITER = """
import sys
from pathlib import Path
from flowengine.mqtt.offline_store import OfflineStore

store = OfflineStore(Path(sys.argv[1]))
first = store.put_many([("t", b"acked-%d" % i, 1, False) for i in range(20)])
store.ack(first)
print("acked", flush=True)
i = 0
while True:
    msg_id = store.put("v1/dev/summary/info", b"%d:" % i + b"x" * 1500, 1, False)
    print(msg_id, i, flush=True)
    i += 1
"""


def _kill_writer_after(db_path: Path, reported: int) -> list[tuple[int, int]]:
    """Run WRITER, SIGKILL it once it reported ``reported`` commits; return (id, seq) pairs it reported."""
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(db_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "acked"
        seen = [tuple(map(int, child.stdout.readline().split())) for _ in range(reported)]
        child.send_signal(signal.SIGKILL)
        seen += [tuple(map(int, line.split())) for line in child.stdout]  # reports already in the pipe
    finally:
        child.kill()
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    return seen  # type: ignore[return-value]


def test_every_reported_message_survives_sigkill_in_order(db_path: Path) -> None:
    reported = _kill_writer_after(db_path, 150)
    with OfflineStore(db_path) as s:
        stored = s.peek(10_000)
    seqs = [int(m.payload.split(b":")[0]) for m in stored]
    assert seqs == list(range(len(seqs)))  # in order, no gap, no duplicate
    assert [m.id for m in stored] == sorted(m.id for m in stored)
    by_id = {m.id: int(m.payload.split(b":")[0]) for m in stored}
    assert all(by_id.get(msg_id) == seq for msg_id, seq in reported)
    assert len(stored) >= len(reported)


def test_acked_messages_stay_deleted_after_sigkill(db_path: Path) -> None:
    _kill_writer_after(db_path, 20)
    with OfflineStore(db_path) as s:
        assert not [m for m in s.peek(10_000) if m.payload.startswith(b"acked-")]
        assert len(s) == len(s.peek(10_000))
