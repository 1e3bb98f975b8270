"""Figures a bench hands to ``bench/run_all.py``: one JSON object per line in ``$BENCH_RESULTS``.

A bench run on its own prints its figures and writes nothing; under ``run_all.py`` it also
appends each headline figure here, with the baseline it measured in the same run and the
target it is held to (``target`` is a bound on the value itself, ``target_ratio`` a bound on
value / baseline; ``higher`` says larger values are better).
"""

from __future__ import annotations

import json
import os
from typing import Any


def emit(
    bench: str,
    figure: str,
    value: float,
    unit: str,
    *,
    baseline: float | None = None,
    baseline_name: str = "",
    target: float | None = None,
    target_ratio: float | None = None,
    higher: bool = False,
) -> None:
    """Record one figure for the combined table (a no-op outside ``run_all.py``)."""
    path = os.environ.get("BENCH_RESULTS")
    if not path:
        return
    row: dict[str, Any] = {"bench": bench, "figure": figure, "value": value, "unit": unit, "higher": higher}
    row.update(baseline=baseline, baseline_name=baseline_name, target=target, target_ratio=target_ratio)
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(row) + "\n")
