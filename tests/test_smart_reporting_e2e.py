"""Smart reporting end to end over a real mosquitto: the spacing of summary reports along the simulated track.

A 1.0.9 agent (``summary.ul_ts`` stamps when each report was sent) whose simulated
vehicle replays a hexagonal track (600 m sides, rounded 60° corners, 90 km/h) at twice real
time, with ``summary/set`` giving summary a ``report`` object: the distance rule reports
along the sides, the heading rule at the corners. The reports are checked with
nothing but what they carry, ``gnss.latitude``/``longitude``/``heading`` and
``summary.ul_ts``, against the rules of docs/smart-reporting.md:

- each report after the first is due: its position is at least ``distance`` from the
  previous report's, or its heading differs by at least ``heading``, or ``max_interval``
  has passed;
- none comes sooner than ``min_interval`` after the one before, nor later than ``max_interval``;
- none comes later than the distance rule demands: short of the reading that first
  reaches ``distance`` (so under ``distance`` plus the longest step between two GNSS
  readings, which the test records) unless ``min_interval`` held it back.

``ul_ts`` is whole seconds, so two sends ``t`` seconds apart are stamped between
``t - 1`` and ``t + 1`` apart; the sources read once a second.
"""

from __future__ import annotations

import datetime
import itertools
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_support import Agents, Platform, Recorder, RunningAgent, store

from flowengine.testing import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.slow]

REPORT = {"max_interval": 10, "min_interval": 3, "distance": 190, "heading": 15, "stationary_interval": 0}
SCALE = 2
SIDE = 600  # m
REPORTS = (6, 14)  # at least, and at most until both rules made a report due alone
EARTH_RADIUS = 6_371_008.8  # m, the mean radius
ROUNDING = 1e-6  # m: floating point, the agent and the test computing the same distance


def haversine(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS * math.asin(math.sqrt(h))


def turn(a: float, b: float) -> float:
    change = abs(a - b) % 360
    return min(change, 360 - change)


def spacing(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, float, int]:
    """Metres, degrees and seconds (``summary.ul_ts``) from report ``a`` to report ``b``."""
    gone = haversine((a["gnss.latitude"], a["gnss.longitude"]), (b["gnss.latitude"], b["gnss.longitude"]))
    return gone, turn(a["gnss.heading"], b["gnss.heading"]), b["summary.ul_ts"] - a["summary.ul_ts"]


def both_rules(rows: list[tuple[float, float, int]]) -> bool:
    """Some report was due by its distance alone, and some by its heading alone."""
    return any(by_distance(*r) for r in rows) and any(by_heading(*r) for r in rows)


def by_distance(gone: float, turned: float, seconds: int) -> bool:
    return gone >= REPORT["distance"] and turned < REPORT["heading"]


def by_heading(gone: float, turned: float, seconds: int) -> bool:
    return gone < REPORT["distance"] and turned >= REPORT["heading"] and seconds < REPORT["max_interval"] - 1


def farthest(seconds: int, step: float) -> float:
    """How far apart two reports may be: short of the first reading at ``distance`` (one ``step``
    past it at most); a report held back by ``min_interval`` (sent ``min_interval`` after the one
    before: stamped at most a second more apart) also as far as the readings of that time reach."""
    if seconds > REPORT["min_interval"] + 1:
        return REPORT["distance"] + step
    return max(REPORT["distance"] + step, (REPORT["min_interval"] + 1) * step)


def longest_step(readings: Recorder) -> float:
    """The longest step between two GNSS positions the agent read in turn."""
    positions = [row for row in readings.rows if None not in row]
    return max(haversine(a, b) for a, b in itertools.pairwise(positions))


def hexagon(path: Path) -> Path:
    """A closed track (GPX): six sides of 600 m, points every 50 m (2 s: 90 km/h), the 60° corners
    rounded (20° a point), so the heading turns over several readings."""
    lat, lon, points = 48.137, 11.575, []
    for corner in range(6):
        for step in range(SIDE // 50):
            points.append((lat, lon))
            heading = math.radians(60 * corner + 20 * max(0, step - SIDE // 50 + 3))
            lat += math.degrees(50 * math.cos(heading) / EARTH_RADIUS)
            lon += math.degrees(50 * math.sin(heading) / (EARTH_RADIUS * math.cos(math.radians(lat))))
    points.append(points[0])
    start = datetime.datetime(2024, 6, 11, tzinfo=datetime.UTC)
    trkpts = "".join(
        f'<trkpt lat="{a:.7f}" lon="{o:.7f}"><time>{(start + datetime.timedelta(seconds=2 * i)).isoformat()}</time></trkpt>'
        for i, (a, o) in enumerate(points)
    )
    path.write_text(
        f'<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>{trkpts}</trkseg></trk></gpx>'
    )
    return path


@pytest.fixture
def driving(agents: Agents, tmp_path: Path) -> Iterator[tuple[RunningAgent, Platform]]:
    track = hexagon(tmp_path / "hexagon.gpx")
    agent = agents.start(scale=SCALE, flexapi={"revision": "1.0.9"}, vehicle={"track": str(track)})
    platform = agents.platform()
    wait_until(lambda: (store(agent).get("gnss.speed") or 0) > 80, 20, what="driving")
    yield agent, platform


def test_reports_follow_the_distance_and_heading_of_the_track(driving: tuple[RunningAgent, Platform]) -> None:
    agent, platform = driving
    readings = Recorder(agent, "gnss.latitude", "gnss.longitude")
    try:
        assert platform.request("summary/set", {"report": REPORT})["result"] == {"report": REPORT}
        reports = [platform.wait("summary/info", timeout=REPORT["max_interval"] + 5)]
        rows: list[tuple[float, float, int]] = []
        while len(rows) < REPORTS[1] and (len(rows) < REPORTS[0] or not both_rules(rows)):
            reports.append(platform.wait("summary/info", timeout=REPORT["max_interval"] + 5))
            rows.append(spacing(*reports[-2:]))
    finally:
        readings.stop()
    step = longest_step(readings)
    table = "\n".join(f"{d:7.1f} m {h:5.1f}° {s:2d} s" for d, h, s in rows) + f"\nlongest step {step:.1f} m"

    for gone, turned, seconds in rows:
        # ul_ts is whole seconds: sends t apart are stamped at least t - 1 apart, at most t + 1
        due = (
            gone >= REPORT["distance"] - ROUNDING
            or turned >= REPORT["heading"]
            or seconds >= REPORT["max_interval"] - 1
        )
        assert due, f"a report that was not due:\n{table}"
        assert seconds >= REPORT["min_interval"] - 1, f"sooner than min_interval:\n{table}"
        assert seconds <= REPORT["max_interval"] + 1, f"later than max_interval:\n{table}"
        assert gone < farthest(seconds, step), f"later than the distance rule:\n{table}"
    assert both_rules(rows), f"not both a report due by distance alone and one by heading alone:\n{table}"
