"""Pure NMEA 0183 decoding into the FlexAPI ``gnss.*`` parameters (Appendix A.1).

:class:`NmeaDecoder` keeps the latest fields of each sentence type (GGA, RMC, GSA, VTG,
GST, u-blox ``PUBX,00`` and the ``PASHR`` attitude sentence of GNSS/INS units) and turns
them into one set of values. Lines with a bad or missing checksum and lines that are not
NMEA are counted and skipped. No I/O here.

Fix status (0 NoFix, 1 DR only, 2 2D, 3 3D, 4 GNSS+DR, 5 Time only) is taken from
``PUBX,00`` navigation status when the receiver sends it (its codes map one to one);
otherwise from GGA quality 6 / RMC mode ``E`` (DR only), then the GSA fix type.
Standard sentences cannot express GNSS+DR or Time only, so those need ``PUBX,00``.

Horizontal accuracy (``gnss.hacc``): the receiver's own estimate when it sends one
(``PUBX,00`` hAcc, or the GST latitude/longitude standard deviations combined);
otherwise HDOP times a user equivalent range error (UERE, default 2.5 m, a typical
figure for a single-frequency receiver).

Constellations (``gnss.type``): the talker ids of the GSA and GSV sentences (GP GPS,
GL GLONASS, GA Galileo, GB/BD BeiDou) that list satellites; a ``GN`` GSA names its
system in the NMEA 4.10 system id field, or else by its satellite numbers (u-blox
numbering: 1-32 GPS, 65-96 GLONASS, 201-264 and 401-463 BeiDou, 301-336 Galileo).
Systems seen in the last three epochs count. The reference knows four combinations: BeiDou alone, GPS with BeiDou,
with GLONASS or with Galileo; BeiDou wins over GLONASS over Galileo when a receiver
tracks more, and a combination without one of them (GPS alone) is ``None``.

Heading accuracy (``gnss.acc_heading``, degrees): the receiver's own estimate when it
sends one (``PASHR`` heading accuracy, from GNSS/INS and dual-antenna units); otherwise
derived from the speed: a course over ground from Doppler velocity is off by about
atan(sigma_v / v), sigma_v = HDOP * ``speed_sigma_mps`` (default 0.1 m/s per unit of HDOP, typical
for single-frequency receivers). Below sigma_v (standing still) the course is undetermined:
180°.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import pynmea2
from pynmea2.types.proprietary.ash import ASHRATT
from pynmea2.types.proprietary.ubx import UBX00

KNOTS_TO_KMH = 1.852
MAX_NUM_SV = 12
DEFAULT_UERE_M = 2.5
DEFAULT_SPEED_SIGMA_MPS = 0.1
UNKNOWN_HEADING_ACC = 180.0
SYSTEM_EPOCHS = 3  # a constellation counts while seen in this many latest epochs
TALKER_SYSTEMS = {"GP": "GPS", "GL": "GLONASS", "GA": "Galileo", "GB": "BeiDou", "BD": "BeiDou"}
#: NMEA 4.10 GSA system id (field 18).
SYSTEM_IDS = {"1": "GPS", "2": "GLONASS", "3": "Galileo", "4": "BeiDou"}
#: Satellite number ranges of multi-GNSS (GN) sentences without a system id (u-blox numbering).
PRN_SYSTEMS = ((1, 32, "GPS"), (65, 96, "GLONASS"), (201, 264, "BeiDou"), (301, 336, "Galileo"), (401, 463, "BeiDou"))
PUBX_FIX = {"NF": 0, "DR": 1, "G2": 2, "D2": 2, "G3": 3, "D3": 3, "RK": 4, "TT": 5}
KEYS = (
    "gnss.latitude",
    "gnss.longitude",
    "gnss.altitude",
    "gnss.speed",
    "gnss.heading",
    "gnss.hdop",
    "gnss.pdop",
    "gnss.hacc",
    "gnss.fix",
    "gnss.num_sv",
    "gnss.date",
    "gnss.time",
    "gnss.type",
    "gnss.acc_heading",
)


@dataclass
class NmeaStats:
    """What the decoder has seen; bad lines are counted, never raised."""

    sentences: int = 0
    bad_checksum: int = 0
    garbage: int = 0
    unsupported: int = 0

    @property
    def rejected(self) -> int:
        return self.bad_checksum + self.garbage


@dataclass
class NmeaDecoder:
    """Feed it lines with :meth:`feed`; read A.1 values with :meth:`values`."""

    uere_m: float = DEFAULT_UERE_M
    require_checksum: bool = True
    speed_sigma_mps: float = DEFAULT_SPEED_SIGMA_MPS
    stats: NmeaStats = field(default_factory=NmeaStats)
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)
    systems: dict[str, int] = field(default_factory=dict)  # constellation -> epoch last seen
    epoch: int = 0
    _epoch_time: Any = None

    def feed(self, line: str | bytes) -> str | None:
        """Decode one line; returns the sentence type used (``"GGA"``...) or None when skipped."""
        text = line.decode("ascii", "replace") if isinstance(line, bytes) else line
        text = text.strip().lstrip("\x00")
        if not text:
            return None
        msg = self._parse(text)
        if msg is None:
            return None
        kind = _kind(msg)
        handler = _HANDLERS.get(kind)
        if handler is None:
            self.stats.unsupported += 1
            return None
        try:
            self.latest[kind] = handler(msg)
        except (ValueError, TypeError, AttributeError):
            self.stats.garbage += 1
            return None
        self.stats.sentences += 1
        self._track(kind, msg)
        return kind

    def _track(self, kind: str, msg: Any) -> None:
        """Count epochs by the GGA/RMC time; note the constellations GSA/GSV sentences name."""
        if kind in ("GGA", "RMC"):
            stamp = self.latest[kind].get("time")
            if stamp != self._epoch_time:
                self.epoch, self._epoch_time = self.epoch + 1, stamp
        elif kind in ("GSA", "GSV"):
            for system in systems_of(msg):
                self.systems[system] = self.epoch

    def _parse(self, text: str) -> pynmea2.NMEASentence | None:
        if not text.startswith(("$", "!")):
            self.stats.garbage += 1
            return None
        try:
            return pynmea2.parse(text, check=self.require_checksum)
        except pynmea2.ChecksumError:
            self.stats.bad_checksum += 1
        except pynmea2.SentenceTypeError:
            self.stats.unsupported += 1
        except (pynmea2.ParseError, ValueError, TypeError, AttributeError):
            self.stats.garbage += 1
        return None

    def values(self) -> dict[str, Any]:
        """The A.1 parameters from the latest sentences (None where unknown or without a fix)."""
        fix = self.fix()
        out: dict[str, Any] = dict.fromkeys(KEYS)
        out["gnss.fix"] = fix
        out["gnss.num_sv"] = self._num_sv()
        out["gnss.date"], out["gnss.time"] = self._date_time()
        out["gnss.type"] = gnss_type({s for s, seen in self.systems.items() if self.epoch - seen < SYSTEM_EPOCHS})
        if fix in (0, 5):
            return out
        out.update(self._position())
        out["gnss.hdop"], out["gnss.pdop"] = self._dops()
        out["gnss.hacc"] = self._hacc(out["gnss.hdop"])
        out["gnss.acc_heading"] = self._acc_heading(out["gnss.speed"], out["gnss.hdop"])
        return out

    def fix(self) -> int:
        pubx = self.latest.get("PUBX00")
        if pubx and pubx["nav_stat"] in PUBX_FIX:
            return PUBX_FIX[pubx["nav_stat"]]
        gga, rmc, gsa = (self.latest.get(k, {}) for k in ("GGA", "RMC", "GSA"))
        if gga.get("quality") == 6 or rmc.get("mode") == "E":
            return 1
        if not (gga.get("quality") or rmc.get("valid")):
            return 0
        if gsa.get("mode") in (2, 3):
            return int(gsa["mode"])
        return 3 if gga.get("alt") is not None else 2

    def _num_sv(self) -> int | None:
        for kind, key in (("GGA", "num_sv"), ("PUBX00", "num_sv"), ("GSA", "num_sv")):
            value = self.latest.get(kind, {}).get(key)
            if value is not None:
                return max(0, min(MAX_NUM_SV, int(value)))
        return None

    def _date_time(self) -> tuple[str | None, str | None]:
        rmc = self.latest.get("RMC", {})
        day, clock = rmc.get("date"), rmc.get("time") or self.latest.get("GGA", {}).get("time")
        date = f"{day.year}-{day.month}-{day.day}" if day else None
        return date, clock.strftime("%H:%M:%S") if clock else None

    def _position(self) -> dict[str, Any]:
        gga, rmc, vtg, pubx = (self.latest.get(k, {}) for k in ("GGA", "RMC", "VTG", "PUBX00"))
        src = next((s for s in (gga, rmc, pubx) if s.get("lat") is not None), {})
        speed = _first(vtg.get("speed_kmh"), rmc.get("speed_kmh"), pubx.get("speed_kmh"))
        heading = _first(vtg.get("course"), rmc.get("course"), pubx.get("course"))
        return {
            "gnss.latitude": src.get("lat"),
            "gnss.longitude": src.get("lon"),
            "gnss.altitude": _first(gga.get("alt"), pubx.get("alt")),
            "gnss.speed": round(speed, 2) if speed is not None else None,
            "gnss.heading": round(heading % 360.0, 2) if heading is not None else None,
        }

    def _dops(self) -> tuple[float | None, float | None]:
        gga, gsa = self.latest.get("GGA", {}), self.latest.get("GSA", {})
        return _first(gga.get("hdop"), gsa.get("hdop"), self.latest.get("PUBX00", {}).get("hdop")), gsa.get("pdop")

    def _hacc(self, hdop: float | None) -> float | None:
        pubx, gst = self.latest.get("PUBX00", {}), self.latest.get("GST", {})
        if pubx.get("h_acc") is not None:
            return round(pubx["h_acc"], 2)
        if gst.get("sigma_lat") is not None and gst.get("sigma_lon") is not None:
            return round(math.hypot(gst["sigma_lat"], gst["sigma_lon"]), 2)
        return round(hdop * self.uere_m, 2) if hdop is not None else None

    def _acc_heading(self, speed_kmh: float | None, hdop: float | None) -> float | None:
        reported = self.latest.get("PASHR", {}).get("heading_acc")
        if reported is not None:
            return round(min(max(reported, 0.0), 360.0), 2)
        if speed_kmh is None or hdop is None:
            return None
        return heading_accuracy(speed_kmh, hdop * self.speed_sigma_mps)


def heading_accuracy(speed_kmh: float, sigma_mps: float) -> float:
    """Degrees of course error for a Doppler speed with standard deviation ``sigma_mps``."""
    speed = speed_kmh / 3.6
    if speed <= sigma_mps:
        return UNKNOWN_HEADING_ACC
    return round(math.degrees(math.atan(sigma_mps / speed)), 2)


def gnss_type(systems: set[str]) -> str | None:
    """The reference's name for the constellations in use (None when it has none for them)."""
    if "BeiDou" in systems:
        return "GPS+Beidou" if "GPS" in systems else "Beidou"
    if "GPS" in systems and "GLONASS" in systems:
        return "GPS+Glonass"
    if "GPS" in systems and "Galileo" in systems:
        return "GPS+Galileo"
    return None


def systems_of(msg: Any) -> set[str]:
    """Constellations a GSA (satellites used) or GSV (satellites in view) sentence shows in use.

    The talker names the system; a ``GN`` sentence names it in the NMEA 4.10 system id
    field (GSA) or by its satellite numbers. A sentence without satellites (a system the
    receiver tracks but sees nothing of) counts for nothing.
    """
    data = list(msg.data)
    if msg.sentence_type == "GSA":
        numbers = [n for n in data[2:14] if n.strip()]
        system_id = data[17] if len(data) > 17 else ""
    else:
        numbers = [data[i] for i in range(3, len(data) - 3, 4) if data[i].strip()]
        system_id = ""
    if not numbers:
        return set()
    talker = TALKER_SYSTEMS.get(getattr(msg, "talker", ""))
    if talker or system_id in SYSTEM_IDS:
        return {talker or SYSTEM_IDS[system_id]}
    return {s for n in numbers if n.isdigit() for low, high, s in PRN_SYSTEMS if low <= int(n) <= high}


def _kind(msg: Any) -> str:
    if isinstance(msg, UBX00):
        return "PUBX00"
    if isinstance(msg, ASHRATT):
        return "PASHR"
    return str(getattr(msg, "sentence_type", ""))


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _num(text: Any) -> float | None:
    """A numeric NMEA field: empty means unknown."""
    return float(text) if text not in (None, "") else None


def _latlon(msg: Any) -> tuple[float | None, float | None]:
    if not msg.lat or not msg.lon:
        return None, None
    return round(msg.latitude, 7), round(msg.longitude, 7)


def _gga(msg: Any) -> dict[str, Any]:
    quality = int(msg.gps_qual or 0)
    lat, lon = _latlon(msg) if quality else (None, None)
    return {
        "quality": quality,
        "lat": lat,
        "lon": lon,
        "alt": _num(msg.altitude) if quality else None,
        "num_sv": int(msg.num_sats) if msg.num_sats else None,
        "hdop": _num(msg.horizontal_dil),
        "time": msg.timestamp if isinstance(msg.timestamp, dt.time) else None,
    }


def _rmc(msg: Any) -> dict[str, Any]:
    valid = msg.status == "A"
    lat, lon = _latlon(msg) if valid else (None, None)
    knots = _num(msg.spd_over_grnd)
    mode = msg.mode_indicator if len(msg.data) > 11 else None
    return {
        "valid": valid,
        "mode": mode,
        "lat": lat,
        "lon": lon,
        "speed_kmh": knots * KNOTS_TO_KMH if knots is not None else None,
        "course": _num(msg.true_course),
        "date": msg.datestamp if isinstance(msg.datestamp, dt.date) else None,
        "time": msg.timestamp if isinstance(msg.timestamp, dt.time) else None,
    }


def _gsa(msg: Any) -> dict[str, Any]:
    used = [p for p in (getattr(msg, f"sv_id{i:02d}") for i in range(1, 13)) if p]
    return {"mode": int(msg.mode_fix_type or 1), "pdop": _num(msg.pdop), "hdop": _num(msg.hdop), "num_sv": len(used)}


def _vtg(msg: Any) -> dict[str, Any]:
    return {"speed_kmh": _num(msg.spd_over_grnd_kmph), "course": _num(msg.true_track)}


def _gst(msg: Any) -> dict[str, Any]:
    return {"sigma_lat": _num(msg.std_dev_latitude), "sigma_lon": _num(msg.std_dev_longitude)}


def _pubx00(msg: Any) -> dict[str, Any]:
    """u-blox position: speed already in km/h, altitude above the ellipsoid."""
    fixed = PUBX_FIX.get(msg.nav_stat, 0) not in (0, 5)
    lat, lon = _latlon(msg) if fixed else (None, None)
    return {
        "nav_stat": msg.nav_stat,
        "h_acc": _num(msg.h_acc),
        "num_sv": int(msg.num_svs) if msg.num_svs else None,
        "lat": lat,
        "lon": lon,
        "alt": _num(msg.alt_ref) if fixed else None,
        "speed_kmh": _num(msg.sog),
        "course": _num(msg.cog),
        "hdop": _num(msg.hdop),
    }


def _pashr(msg: Any) -> dict[str, Any]:
    """GNSS/INS attitude: only the heading accuracy estimate (degrees) is used."""
    return {"heading_acc": msg.heading_accuracy}


def _ignore(msg: Any) -> dict[str, Any]:
    return {}


_HANDLERS = {
    "GGA": _gga,
    "RMC": _rmc,
    "GSA": _gsa,
    "VTG": _vtg,
    "GST": _gst,
    "PUBX00": _pubx00,
    "PASHR": _pashr,
    "GSV": _ignore,
}
