"""Pure NMEA 0183 encoding of the simulated vehicle's position (what a GNSS receiver would send).

One epoch is GGA, GSA, RMC and VTG with valid checksums, rendered by pynmea2 so the
simulated bytes follow the same grammar the decoder parses from real receivers.
"""

from __future__ import annotations

import datetime as dt

import pynmea2

from nodes.sources.sim.vehicle import VehicleState

KMH_PER_KNOT = 1.852
GEOID_SEPARATION_M = 47.0


def epoch(state: VehicleState) -> list[str]:
    """The sentences of one receiver epoch, each terminated by CR LF."""
    when = dt.datetime.fromtimestamp(state.unix_time, dt.UTC)
    sentences = (_gga(state, when), _gsa(state), _rmc(state, when), _vtg(state))
    return [f"{s.render()}\r\n" for s in sentences]


def _hhmmss(when: dt.datetime) -> str:
    return when.strftime("%H%M%S.") + f"{when.microsecond // 10_000:02d}"


def _lat(value: float) -> tuple[str, str]:
    deg = int(abs(value))
    return f"{deg:02d}{(abs(value) - deg) * 60:08.5f}", "N" if value >= 0 else "S"


def _lon(value: float) -> tuple[str, str]:
    deg = int(abs(value))
    return f"{deg:03d}{(abs(value) - deg) * 60:08.5f}", "E" if value >= 0 else "W"


def _gga(s: VehicleState, when: dt.datetime) -> pynmea2.NMEASentence:
    lat, lon = _lat(s.latitude), _lon(s.longitude)
    quality = "1" if s.gnss_fix else "0"
    fields = (_hhmmss(when), *lat, *lon, quality, f"{s.num_sv:02d}", f"{s.hdop:.2f}")
    return pynmea2.GGA("GN", "GGA", (*fields, f"{s.altitude:.1f}", "M", f"{GEOID_SEPARATION_M:.1f}", "M", "", ""))


def _gsa(s: VehicleState) -> pynmea2.NMEASentence:
    used = [f"{prn:02d}" for prn in range(1, s.num_sv + 1)] + [""] * (12 - s.num_sv)
    vdop = max(0.5, (s.pdop**2 - s.hdop**2) ** 0.5)
    return pynmea2.GSA("GN", "GSA", ("A", str(s.gnss_fix), *used, f"{s.pdop:.2f}", f"{s.hdop:.2f}", f"{vdop:.2f}"))


def _rmc(s: VehicleState, when: dt.datetime) -> pynmea2.NMEASentence:
    lat, lon = _lat(s.latitude), _lon(s.longitude)
    knots = f"{s.speed_kmh / KMH_PER_KNOT:.3f}"
    fields = (_hhmmss(when), "A", *lat, *lon, knots, f"{s.heading:.2f}", when.strftime("%d%m%y"), "", "", "A")
    return pynmea2.RMC("GN", "RMC", fields)


def _vtg(s: VehicleState) -> pynmea2.NMEASentence:
    knots = s.speed_kmh / KMH_PER_KNOT
    fields = (f"{s.heading:.2f}", "T", "", "M", f"{knots:.3f}", "N", f"{s.speed_kmh:.3f}", "K", "A")
    return pynmea2.VTG("GN", "VTG", fields)
