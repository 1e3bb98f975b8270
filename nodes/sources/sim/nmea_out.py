"""Pure NMEA 0183 encoding of the simulated vehicle's position (what a GNSS receiver would send).

One epoch is GGA, one GSA per constellation (NMEA 4.10, with its system id), the GSV
sentences of each constellation under its own talker id (GP, GL, GA, GB), RMC and VTG,
with valid checksums, rendered by pynmea2 so the simulated bytes follow the same grammar
the decoder parses from real receivers. The satellites used are shared among the
constellations of ``gnss_type``; each also sees two it does not use.
"""

from __future__ import annotations

import datetime as dt
import math

import pynmea2

from nodes.sources.sim.vehicle import VehicleState

KMH_PER_KNOT = 1.852
GEOID_SEPARATION_M = 47.0
#: Constellation -> (GSV talker, NMEA 4.10 system id, first satellite number).
SYSTEMS = {"GPS": ("GP", "1", 1), "Glonass": ("GL", "2", 65), "Galileo": ("GA", "3", 1), "Beidou": ("GB", "4", 1)}
SPARE_IN_VIEW = 2


def epoch(state: VehicleState) -> list[str]:
    """The sentences of one receiver epoch, each terminated by CR LF."""
    when = dt.datetime.fromtimestamp(state.unix_time, dt.UTC)
    shares = used_per_system(state.gnss_type, state.num_sv)
    gsa = [_gsa(state, name, used) for name, used in shares]
    gsv = [sentence for name, used in shares for sentence in _gsv(state, name, used)]
    sentences = (_gga(state, when), *gsa, *gsv, _rmc(state, when), _vtg(state))
    return [f"{s.render()}\r\n" for s in sentences]


def used_per_system(gnss_type: str, num_sv: int) -> list[tuple[str, int]]:
    """How many of the satellites used each constellation gives (the first one the larger share)."""
    names = gnss_type.split("+")
    first = num_sv if len(names) == 1 else math.ceil(num_sv * 0.6)
    return [(names[0], first), *((name, num_sv - first) for name in names[1:])]


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


def _gsa(s: VehicleState, system: str, count: int) -> pynmea2.NMEASentence:
    _talker, system_id, first = SYSTEMS[system]
    used = [f"{prn:02d}" for prn in range(first, first + count)] + [""] * (12 - count)
    vdop = max(0.5, (s.pdop**2 - s.hdop**2) ** 0.5)
    dops = (f"{s.pdop:.2f}", f"{s.hdop:.2f}", f"{vdop:.2f}")
    return pynmea2.GSA("GN", "GSA", ("A", str(s.gnss_fix), *used, *dops, system_id))


def _gsv(s: VehicleState, system: str, used: int) -> list[pynmea2.NMEASentence]:
    """Satellites in view, four per sentence: number, elevation, azimuth, SNR (empty when not tracked)."""
    talker, _id, first = SYSTEMS[system]
    prns = range(first, first + used + SPARE_IN_VIEW)
    minute = s.elapsed_s / 60.0
    views = [
        (f"{prn:02d}", f"{round(15 + (prn * 37 + minute) % 70):02d}", f"{round(prn * 73 + minute) % 360:03d}",
         f"{round(30 + (prn * 11) % 18)}" if n < used else "")
        for n, prn in enumerate(prns)
    ]  # fmt: skip
    pages = [views[i : i + 4] for i in range(0, len(views), 4)]
    return [
        pynmea2.GSV(talker, "GSV", (str(len(pages)), str(n), f"{len(views):02d}", *[f for sat in page for f in sat]))
        for n, page in enumerate(pages, 1)
    ]


def _rmc(s: VehicleState, when: dt.datetime) -> pynmea2.NMEASentence:
    lat, lon = _lat(s.latitude), _lon(s.longitude)
    knots = f"{s.speed_kmh / KMH_PER_KNOT:.3f}"
    fields = (_hhmmss(when), "A", *lat, *lon, knots, f"{s.heading:.2f}", when.strftime("%d%m%y"), "", "", "A")
    return pynmea2.RMC("GN", "RMC", fields)


def _vtg(s: VehicleState) -> pynmea2.NMEASentence:
    knots = s.speed_kmh / KMH_PER_KNOT
    fields = (f"{s.heading:.2f}", "T", "", "M", f"{knots:.3f}", "N", f"{s.speed_kmh:.3f}", "K", "A")
    return pynmea2.VTG("GN", "VTG", fields)
