"""OfflineStore against a plain-list model: random puts, bursts, acks and reopens keep order, bounds and counts."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from flowengine.mqtt.offline_store import OfflineStore

MAX_MESSAGES, MAX_BYTES = 6, 300

put = st.tuples(st.just("put"), st.lists(st.integers(0, 120), min_size=1, max_size=8))  # payload sizes
ack = st.tuples(st.just("ack"), st.lists(st.integers(0, 9), max_size=5))  # positions among the stored
reopen = st.tuples(st.just("reopen"), st.just(None))


class Model:
    """What the store must hold: (id, payload) oldest first, and how many it dropped."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, bytes]] = []
        self.dropped = 0

    def add(self, ids: list[int], payloads: list[bytes]) -> None:
        self.rows += zip(ids, payloads, strict=True)
        while len(self.rows) > MAX_MESSAGES or sum(1 + len(p) for _, p in self.rows) > MAX_BYTES:
            self.rows.pop(0)
            self.dropped += 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(put, ack, reopen), max_size=25))
def test_store_matches_the_model(ops) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "offline.db"
        model, store, counter = Model(), OfflineStore(path, MAX_MESSAGES, MAX_BYTES), 0
        try:
            for kind, arg in ops:
                if kind == "put":
                    payloads = [bytes([counter + i & 0xFF]) * size for i, size in enumerate(arg)]
                    counter += len(arg)
                    model.add(store.put_many([("t", p, 1, False) for p in payloads]), payloads)
                elif kind == "ack":
                    chosen = {model.rows[i][0] for i in arg if i < len(model.rows)}
                    assert store.ack(chosen) == len(chosen)
                    model.rows = [r for r in model.rows if r[0] not in chosen]
                else:
                    store.close()
                    store = OfflineStore(path, MAX_MESSAGES, MAX_BYTES)
                assert [(m.id, m.payload) for m in store.peek(100)] == model.rows
                assert len(store) == len(model.rows)
                assert store.size_bytes == sum(1 + len(p) for _, p in model.rows)
                assert store.dropped == model.dropped
        finally:
            store.close()
