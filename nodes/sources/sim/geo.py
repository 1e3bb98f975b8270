"""Small spherical-earth helpers shared by the simulated route and track replay."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8


def move(lat: float, lon: float, heading_deg: float, metres: float) -> tuple[float, float]:
    """Position after travelling ``metres`` along ``heading_deg`` (flat-earth step; fine for short steps)."""
    h = math.radians(heading_deg)
    dlat = metres * math.cos(h) / EARTH_RADIUS_M
    dlon = metres * math.sin(h) / (EARTH_RADIUS_M * max(math.cos(math.radians(lat)), 1e-6))
    return lat + math.degrees(dlat), wrap_lon(lon + math.degrees(dlon))


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial bearing from point 1 to point 2, clockwise from north, in [0, 360)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360.0


def angle_diff(a: float, b: float) -> float:
    """Signed smallest difference ``b - a`` in degrees, in (-180, 180]."""
    d = (b - a) % 360.0
    return d - 360.0 if d > 180.0 else d


def wrap_lon(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0
