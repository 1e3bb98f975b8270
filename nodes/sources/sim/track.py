"""Replay of a recorded track (GPX or NMEA) as the simulated vehicle's route.

The recording is played in real time from its first point and wraps around at the end
(the odometer keeps counting). Speed and heading come from the recorded positions and
times, smoothed between points; a track without times is driven at 50 km/h.
"""

from __future__ import annotations

import datetime as dt
import itertools
import xml.etree.ElementTree as ET
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

import pynmea2

from nodes.sources.sim.geo import angle_diff, bearing_deg, distance_m
from nodes.sources.sim.route import Pose

UNTIMED_SPEED = 50.0 / 3.6


@dataclass(frozen=True)
class TrackPoint:
    t: float  # seconds from the first point
    lat: float
    lon: float
    alt: float


class TrackError(ValueError):
    """The track file cannot be replayed (unreadable, unknown format, fewer than two points)."""


def load_track(path: Path) -> list[TrackPoint]:
    """Read a ``.gpx`` or ``.nmea`` file into timed points."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise TrackError(f"cannot read track {path}: {exc.strerror}") from exc
    suffix = path.suffix.lower()
    if suffix == ".gpx":
        raw = _gpx_points(text)
    elif suffix in (".nmea", ".txt", ".log"):
        raw = _nmea_points(text)
    else:
        raise TrackError(f"track {path}: unknown format {suffix!r} (use .gpx or .nmea)")
    if len(raw) < 2:
        raise TrackError(f"track {path}: needs at least two positions, found {len(raw)}")
    return _timed(raw)


def _gpx_points(text: str) -> list[tuple[float | None, float, float, float]]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise TrackError(f"GPX is not valid XML: {exc}") from exc
    points = []
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] not in ("trkpt", "rtept"):
            continue
        values = {child.tag.rsplit("}", 1)[-1]: (child.text or "").strip() for child in el}
        stamp = _iso_time(values.get("time", ""))
        alt = float(values["ele"]) if values.get("ele") else 0.0
        points.append((stamp, float(el.attrib["lat"]), float(el.attrib["lon"]), alt))
    return points


def _iso_time(text: str) -> float | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _nmea_points(text: str) -> list[tuple[float | None, float, float, float]]:
    """Positions from valid RMC sentences; altitude from the latest GGA before each one."""
    points: list[tuple[float | None, float, float, float]] = []
    alt = 0.0
    for line in text.splitlines():
        try:
            msg = pynmea2.parse(line.strip(), check=True)
        except (pynmea2.ParseError, ValueError, AttributeError):
            continue
        if isinstance(msg, pynmea2.GGA) and msg.altitude is not None:
            alt = float(msg.altitude)
        elif isinstance(msg, pynmea2.RMC) and msg.status == "A" and msg.datestamp and msg.timestamp:
            stamp = dt.datetime.combine(msg.datestamp, msg.timestamp).replace(tzinfo=dt.UTC).timestamp()
            points.append((stamp, msg.latitude, msg.longitude, alt))
    return points


def _timed(raw: list[tuple[float | None, float, float, float]]) -> list[TrackPoint]:
    """Relative times; untimed or non-increasing stamps are replaced by driving at 50 km/h."""
    out = [TrackPoint(0.0, raw[0][1], raw[0][2], raw[0][3])]
    for (t0, *_), (t1, lat, lon, alt) in itertools.pairwise(raw):
        prev = out[-1]
        if t0 is not None and t1 is not None and t1 > t0:
            step = t1 - t0
        else:
            step = max(distance_m(prev.lat, prev.lon, lat, lon) / UNTIMED_SPEED, 0.1)
        out.append(TrackPoint(prev.t + step, lat, lon, alt))
    return out


class TrackReplay:
    """Plays timed points as poses; the engine runs for the whole replay."""

    def __init__(self, points: list[TrackPoint]) -> None:
        self.points = points
        self.times = [p.t for p in points]
        self.speeds = _point_speeds(points)
        self.headings = _point_headings(points)
        self.clock = 0.0
        first = points[0]
        self.pose = Pose(first.lat, first.lon, first.alt, heading=self.headings[0], engine_on=True, parking_brake=False)
        self._place()

    @property
    def duration(self) -> float:
        return self.times[-1]

    def advance(self, dt: float) -> None:
        self.clock = (self.clock + dt) % self.duration
        before = self.pose.speed
        self._place()
        self.pose.distance_m += (before + self.pose.speed) / 2 * dt

    def _place(self) -> None:
        i = min(max(bisect_right(self.times, self.clock) - 1, 0), len(self.points) - 2)
        a, b = self.points[i], self.points[i + 1]
        f = (self.clock - a.t) / (b.t - a.t)
        p = self.pose
        p.lat = a.lat + (b.lat - a.lat) * f
        p.lon = a.lon + (b.lon - a.lon) * f
        p.alt = a.alt + (b.alt - a.alt) * f
        p.speed = self.speeds[i] + (self.speeds[i + 1] - self.speeds[i]) * f
        p.heading = (self.headings[i] + angle_diff(self.headings[i], self.headings[i + 1]) * f) % 360.0


def _segment_speeds(points: list[TrackPoint]) -> list[float]:
    return [distance_m(a.lat, a.lon, b.lat, b.lon) / (b.t - a.t) for a, b in itertools.pairwise(points)]


def _point_speeds(points: list[TrackPoint]) -> list[float]:
    """Speed at each point: the mean of the segments on either side."""
    seg = _segment_speeds(points)
    inner = [(x + y) / 2 for x, y in itertools.pairwise(seg)]
    return [seg[0], *inner, seg[-1]]


def _point_headings(points: list[TrackPoint]) -> list[float]:
    """Heading at each point: the bearing of the next moving segment (held while standing still)."""
    headings: list[float] = []
    last = 0.0
    for a, b in itertools.pairwise(points):
        if distance_m(a.lat, a.lon, b.lat, b.lon) > 0.5:
            last = bearing_deg(a.lat, a.lon, b.lat, b.lon)
        headings.append(last)
    return [*headings, headings[-1]]
