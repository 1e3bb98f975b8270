"""Offline Data Store figures next to baselines measured in the same run.

    .venv/bin/python bench/bench_offline_store.py [--messages N] [--dir DIR]

Prints: messages stored per second (one durable commit per message, and per burst of 16), replayed
(peek + ack) per second, the Replayer end to end against an instantly acking publisher, open time of a
filled store, and the RSS of a process that buffers a 5-minute outage of 16 groups at 1 msg/s.
Baselines: plain file appends with the same fsync policy, and an in-memory deque (no durability).

``--link`` adds the same figures through the real MqttLink and a private mosquitto: info messages
stored per second while the broker is down, replayed (to PUBACK) per second once it is back - paced
as shipped and unpaced - and the RSS of a process whose link holds a compressed 5-minute outage of
16 groups; the baseline is the same link with its in-memory queue.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowengine.mqtt.offline_store import OfflineStore, Replayer

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/results.py
from results import emit

GROUPS = 16
OUTAGE_S = 300
TOPIC = "v1/device-0001/summary/info"


def summary_payload(seq: int) -> bytes:
    """A summary info message shaped like the reference's example (GNSS, OBD, IO, motion)."""
    body: dict[str, object] = {"gnss.ts": 1592820539 + seq, "gnss.latitude": 40.232213, "gnss.longitude": 116.34366}
    body |= {f"gnss.{k}": v for k, v in {"altitude": 346.0, "speed": 87.6, "heading": 234.0, "hdop": 1.2}.items()}
    body |= {"gnss.pdop": 2.1, "gnss.hacc": 1.0, "gnss.fix": 3, "gnss.num_sv": 7, "gnss.date": "2020-4-17"}
    body |= {"gnss.vdop": 1.9, "gnss.vacc": 2.0, "gnss.gdop": 2.6, "gnss.sacc": 0.35, "gnss.cog": 233.7}
    body |= {"gnss.time": "10:16:21", "obd.ts": 1592820539 + seq, "obd.rpm": 1234, "obd.speed": 20, "obd.odo": 1400}
    body |= {"obd.up_time": 3600, "obd.coolant_temp": 87, "obd.fuel_level": 55.5, "obd.engine_load": 41.2}
    body |= {"obd.intake_temp": 31, "obd.maf": 12.75, "obd.throttle": 17.6, "obd.vin": "WVWZZZ1JZXW000001"}
    body |= {"obd.fuel_rate": 3.85, "obd.battery_voltage": 14.1, "io.ts": 1592820539 + seq}
    body |= {f"io.AI{i}": 0.0 for i in range(1, 7)}
    body |= {f"io.{p}{i}{s}": 0 for p in ("DI", "DO") for i in range(1, 7) for s in ("", "_pullup")}
    body |= {"motion.ts": 1592820539 + seq, **{f"motion.{a}": -0.0123 for a in ("ax", "ay", "az", "gx", "gy", "gz")}}
    return json.dumps(body, indent=2).encode()  # the reference prints its examples indented


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def row(label: str, value: float, base: float | None = None, unit: str = "msg/s") -> None:
    ratio = ""
    if base:
        ratio = (
            f"   x{value / base:7.2f} of baseline" if value >= base / 100 else f"   1/{base / value:,.0f} of baseline"
        )
    print(f"  {label:<48} {value:>12,.0f} {unit}{ratio}")
    if label.startswith("baseline: "):
        _baseline_names[value] = label.removeprefix("baseline: ")
    elif base:
        emit(
            "offline_store", label, value, unit, baseline=base, baseline_name=_baseline_names.get(base, ""), higher=True
        )


#: The label of each baseline row printed so far, by its value (for the combined table of run_all.py).
_baseline_names: dict[float, str] = {}


# -- storing --------------------------------------------------------------------------------


def store_rates(work: Path, msgs: list[bytes]) -> None:
    n = len(msgs)
    print(f"\nStoring {n} messages of {len(msgs[0])} bytes")
    file_each = rate(n, timed(lambda: file_append(work / "each.log", msgs, every=1)))
    file_burst = rate(n, timed(lambda: file_append(work / "burst.log", msgs, every=GROUPS)))
    dq: deque[tuple[str, bytes]] = deque()
    mem = rate(n, timed(lambda: [dq.append((TOPIC, m)) for m in msgs]))
    with OfflineStore(work / "each.db") as store:
        one = rate(n, timed(lambda: [store.put(TOPIC, m, 1, False) for m in msgs]))
    with OfflineStore(work / "burst.db") as store:
        batches = [[(TOPIC, m, 1, False) for m in msgs[i : i + GROUPS]] for i in range(0, n, GROUPS)]
        burst = rate(n, timed(lambda: [store.put_many(b) for b in batches]))
    row("baseline: file append, fsync per message", file_each)
    row("OfflineStore.put (one durable commit each)", one, file_each)
    row(f"baseline: file append, fsync per {GROUPS}", file_burst)
    row(f"OfflineStore.put_many ({GROUPS} per commit)", burst, file_burst)
    row("baseline: in-memory deque (not durable)", mem)
    row("OfflineStore.put vs deque", one, mem)


def file_append(path: Path, msgs: list[bytes], every: int) -> None:
    with path.open("ab") as f:
        for i, m in enumerate(msgs, 1):
            f.write(len(m).to_bytes(4, "big") + m)
            if i % every == 0:
                f.flush()
                os.fsync(f.fileno())
        f.flush()
        os.fsync(f.fileno())


# -- replaying ------------------------------------------------------------------------------


def replay_rates(work: Path, msgs: list[bytes]) -> None:
    n = len(msgs)
    print(f"\nReplaying {n} stored messages")
    path = work / "replay.db"
    with OfflineStore(path) as store:
        store.put_many([(TOPIC, m, 1, False) for m in msgs])
        peek_ack = rate(n, timed(lambda: drain(store, 100)))
        store.put_many([(TOPIC, m, 1, False) for m in msgs])
        replayer = rate(n, timed(lambda: asyncio.run(Replayer(store, instant_ack, rate=None).run())))
    file_append(work / "replay.log", msgs, every=n)
    file_read = rate(n, timed(lambda: read_log(work / "replay.log")))
    dq = deque(msgs)
    mem = rate(n, timed(lambda: [dq.popleft() for _ in range(n)]))
    row("baseline: sequential read of an append log", file_read)
    row("OfflineStore peek(100) + ack(100)", peek_ack, file_read)
    row("Replayer, instant acks, 10 in flight, no rate cap", replayer, file_read)
    row("baseline: in-memory deque popleft", mem)


def drain(store: OfflineStore, batch: int) -> None:
    while page := store.peek(batch):
        store.ack(m.id for m in page)


async def instant_ack(topic: str, payload: bytes, qos: int, retain: bool) -> None:
    return None


def read_log(path: Path) -> int:
    data, pos, count = path.read_bytes(), 0, 0
    while pos < len(data):
        pos += 4 + int.from_bytes(data[pos : pos + 4], "big")
        count += 1
    return count


# -- opening and memory ---------------------------------------------------------------------


def open_times(work: Path, payload: bytes) -> None:
    print("\nOpening a filled store (includes PRAGMA quick_check)")
    for count in (GROUPS * OUTAGE_S, 64 * 1024 * 1024 // (len(TOPIC) + len(payload))):
        path = work / f"open-{count}.db"
        with OfflineStore(path) as store:
            for i in range(0, count, 1000):
                store.put_many([(TOPIC, payload, 1, False)] * min(1000, count - i))
        seconds = timed(lambda p=path: OfflineStore(p).close())
        size = path.stat().st_size / 1024 / 1024
        print(f"  {count:>7} messages, {size:6.1f} MiB file: open in {seconds * 1000:8.1f} ms")


CHILD = """
import json, os, sys, psutil
from collections import deque
from pathlib import Path
sys.path.insert(0, os.path.dirname(sys.argv[1]))
from bench_offline_store import GROUPS, OUTAGE_S, TOPIC, summary_payload
from flowengine.mqtt.offline_store import OfflineStore
proc = psutil.Process()
before = proc.memory_info().rss
if sys.argv[2] == "store":
    keep = OfflineStore(Path(sys.argv[3]))
    for second in range(OUTAGE_S):
        keep.put_many([(TOPIC, summary_payload(second * GROUPS + g), 1, False) for g in range(GROUPS)])
else:
    keep = deque()
    for second in range(OUTAGE_S):
        keep.extend((TOPIC, summary_payload(second * GROUPS + g)) for g in range(GROUPS))
print(json.dumps({"before": before, "after": proc.memory_info().rss, "stored": len(keep)}))
"""


def child_figures(script: str, *args: str) -> dict[str, Any]:
    """Run ``script`` in a fresh interpreter (so RSS is its own) and read the JSON it prints."""
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def print_rss(label: str, fig: dict[str, Any]) -> None:
    before, after = fig["before"] / 2**20, fig["after"] / 2**20
    print(f"  {label} RSS {before:6.1f} MiB at start, {after:6.1f} MiB after (+{after - before:5.1f} MiB)")


def rss(work: Path) -> None:
    print(f"\nRSS of a process buffering a {OUTAGE_S} s outage of {GROUPS} groups at 1 msg/s")
    for kind in ("deque", "store"):
        fig = child_figures(CHILD, __file__, kind, str(work / "rss.db"))
        label = "baseline: in-memory deque" if kind == "deque" else "OfflineStore"
        print_rss(f"{label:<28} {fig['stored']} msgs:", fig)
    print(f"  database file: {(work / 'rss.db').stat().st_size / 2**20:.1f} MiB")


# -- through the real link ------------------------------------------------------------------

LINK_CHILD = """
import asyncio, json, logging, sys
from pathlib import Path
import psutil
sys.path.insert(0, sys.argv[1])
from bench_offline_store import link_outage
logging.getLogger("flowengine.mqtt").setLevel(logging.ERROR)
print(json.dumps(asyncio.run(link_outage(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), sys.argv[5] == "store"))))
"""


async def link_outage(kind: str, port: int, work: Path, with_store: bool) -> dict[str, float]:
    """Hold a whole outage in a link whose broker is down; report RSS before and after (bytes)."""
    import psutil

    proc = psutil.Process()
    before = proc.memory_info().rss
    link = make_link(port, work / f"{kind}.db" if with_store else None, pace=None)
    await link.start()
    for second in range(OUTAGE_S):
        futures = [link.publish(TOPIC, summary_payload(second * GROUPS + g), durable=True) for g in range(GROUPS)]
        if with_store:
            await asyncio.gather(*futures)
    after = proc.memory_info().rss
    waiting = link.offline_stats().waiting
    await link.close(timeout=0)
    return {"before": before, "after": after, "waiting": waiting}


def make_link(port: int, store_path: Path | None, pace: float | None) -> Any:
    from flowengine.config import MqttSettings
    from flowengine.mqtt import Backoff, MqttLink

    store = OfflineStore(store_path) if store_path is not None else None
    settings = MqttSettings(port=port, client_id=f"bench-{time.monotonic_ns()}")
    return MqttLink(settings, backoff=Backoff(0.05, 0.2), offline_store=store, replay_rate=pace, queue_limit=100_000)


async def store_then_replay(
    broker: Any, store_path: Path | None, msgs: list[bytes], pace: float | None
) -> tuple[float, float]:
    """Publish ``msgs`` while the broker is down, start it: (stored or queued per s, delivered per s)."""
    link = make_link(broker.port, store_path, pace)
    await link.start()
    start = time.perf_counter()
    futures = [link.publish(TOPIC, m, durable=True) for m in msgs]
    if store_path is not None:
        await asyncio.gather(*futures)  # settled = on disk
    stored = time.perf_counter() - start
    broker.start()  # returns once it listens
    start = time.perf_counter()
    if store_path is not None:
        while link.offline_stats().waiting:
            await asyncio.sleep(0.005)
    else:
        await asyncio.gather(*futures)
    replayed = time.perf_counter() - start
    await link.close()
    broker.stop()
    return rate(len(msgs), stored), rate(len(msgs), replayed)


def link_rates(work: Path, msgs: list[bytes]) -> None:
    from flowengine.testing import Mosquitto, free_port

    logging.getLogger("flowengine.mqtt").setLevel(logging.ERROR)  # reconnect attempts are expected here
    n = len(msgs)
    print(f"\nThrough the real MqttLink and mosquitto: {n} info messages during an outage, then reconnect")
    broker = Mosquitto(work)
    mem_q, mem_r = asyncio.run(store_then_replay(broker, None, msgs, None))
    _, paced_r = asyncio.run(store_then_replay(broker, work / "link-paced.db", msgs[:250], 50.0))
    free_s, free_r = asyncio.run(store_then_replay(broker, work / "link-free.db", msgs, None))
    row("baseline: in-memory queue, publish while down", mem_q)
    row("offline store: publish while down (on disk)", free_s, mem_q)
    row("baseline: in-memory queue flushed to PUBACK", mem_r)
    row("offline store replayed to PUBACK, unpaced", free_r, mem_r)
    row("offline store replayed to PUBACK, paced (50/s)", paced_r, mem_r)
    for kind in ("memory", "store"):
        fig = child_figures(LINK_CHILD, str(Path(__file__).parent), kind, str(free_port()), str(work), kind)
        label = "baseline: link, in-memory queue" if kind == "memory" else "link with offline store"
        print_rss(f"{label:<32} {fig['waiting']} msgs held:", fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=GROUPS * OUTAGE_S)
    parser.add_argument("--dir", type=Path, default=None, help="where the files go (default: a temp dir)")
    parser.add_argument("--link", action="store_true", help="also measure through MqttLink and a private mosquitto")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        msgs = [summary_payload(i) for i in range(args.messages)]
        print(f"flowengine offline store bench on {work} (Python {sys.version.split()[0]})")
        store_rates(work, msgs)
        replay_rates(work, msgs)
        open_times(work, msgs[0])
        rss(work)
        if args.link:
            link_rates(work, msgs)


if __name__ == "__main__":
    main()
