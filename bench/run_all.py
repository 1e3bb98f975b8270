"""Run every bench and print one table: each figure, its same-run baseline, the ratio and the target.

    .venv/bin/python bench/run_all.py [--quick] [--only idle,relay,...] [--out DIR]

Each bench stays a script of its own (``bench/bench_*.py``) and runs here as a separate process,
one after the other, so no bench disturbs another. Their full output goes to ``DIR/<bench>.txt``
(default: a new temp dir, printed at the end); their headline figures come back through
``bench/results.py`` and make the table. ``--quick`` uses short windows and few rounds (a smoke
run: its figures are noisier). Node-RED baselines need Node-RED (``$NODE_RED``, or
``npm install --prefix bench/.node-red node-red``); without it those rows have no baseline.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

#: name -> (full arguments, quick arguments)
BENCHES: dict[str, tuple[list[str], list[str]]] = {
    "idle": (["--seconds", "60", "--warmup", "10"], ["--seconds", "15", "--warmup", "8"]),
    "startup": (["--rounds", "7"], ["--rounds", "3"]),
    "requests": (["--requests", "250"], ["--requests", "60"]),
    "relay": (["--rounds", "5", "--rss-messages", "150000"], ["--rounds", "1", "--messages", "5000",
              "--rss-messages", "20000"]),
    "function": (["--rounds", "5"], ["--rounds", "1", "--messages", "5000"]),
    "scale": (["--seconds", "60"], ["--seconds", "15", "--warmup", "6"]),
    "footprint": (["--seconds", "15"], ["--seconds", "8"]),
    "engine": ([], ["--messages", "20000"]),
    "sources": ([], ["--seconds", "600", "--cycles", "5"]),
    "offline_store": (["--link"], ["--messages", "2000"]),
    "expression": ([], ["--n", "300"]),
    "hostile": ([], ["--requests", "30"]),
}  # fmt: skip


def run(name: str, args: list[str], out: Path, results: Path) -> tuple[int, float]:
    """Run ``bench_<name>.py``; its output to ``out/<name>.txt``; returns its exit code and seconds."""
    env = {**os.environ, "BENCH_RESULTS": str(results), "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    with open(out / f"{name}.txt", "w") as log:
        done = subprocess.run([sys.executable, str(BENCH / f"bench_{name}.py"), *args], stdout=log,
                              stderr=subprocess.STDOUT, env=env, cwd=ROOT)  # fmt: skip
    return done.returncode, time.monotonic() - started


def verdict(row: dict[str, Any]) -> tuple[str, str, str]:
    """(ratio, target, status) of one figure."""
    value, base, higher = row["value"], row.get("baseline"), row.get("higher", False)
    ratio = value / base if base else None
    better = (lambda a, b: a >= b) if higher else (lambda a, b: a <= b)
    sign = ">=" if higher else "<="
    if row.get("target") is not None:
        return (
            _ratio(ratio),
            f"{sign} {row['target']:g} {row['unit']}",
            "met" if better(value, row["target"]) else "NOT met",
        )
    if row.get("target_ratio") is not None:
        if ratio is None:
            return "-", f"{sign} {row['target_ratio']:g}x", "no baseline"
        return (
            _ratio(ratio),
            f"{sign} {row['target_ratio']:g}x",
            "met" if better(ratio, row["target_ratio"]) else "NOT met",
        )
    return _ratio(ratio), "-", ""


def _ratio(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}"


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| bench | figure | flowengine | baseline (same run) | ratio | target | status |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for row in rows:
        ratio, target, status = verdict(row)
        base = f"{_number(row.get('baseline'))} ({row['baseline_name']})" if row.get("baseline") is not None else "-"
        value = f"{_number(row['value'])} {row['unit']}"
        lines.append(f"| {row['bench']} | {row['figure']} | {value} | {base} | {ratio} | {target} | {status} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short windows, few rounds (noisier)")
    parser.add_argument("--only", default="", help="comma-separated benches to run (default: all)")
    parser.add_argument("--out", type=Path, help="directory for each bench's full output")
    args = parser.parse_args()
    chosen = [n for n in BENCHES if not args.only or n in args.only.split(",")]
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-run-"))
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.jsonl"
    results.write_text("")
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{when}; {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"command: bench/run_all.py {' '.join(sys.argv[1:])}".rstrip())
    for name in chosen:
        code, seconds = run(name, BENCHES[name][1 if args.quick else 0], out, results)
        print(f"  {name:<14} {'ok' if code == 0 else f'FAILED (exit {code})'} in {seconds:.0f} s")
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    print()
    print("\n".join(table(rows)))
    print(f"\nfull output of each bench: {out}")


if __name__ == "__main__":
    main()
