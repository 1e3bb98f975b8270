"""AT response codecs: pure functions from a command's response lines to FlexAPI values.

Each parser takes the information lines of one command (echo and final result
already removed) and returns plain values; unknown or "not detectable" readings
become ``None``. Formats follow 3GPP TS 27.007 and the Quectel ``+QENG`` layout,
including the quirks of real modems (missing quotes, stray spaces, leading zeros).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from typing import Any, Literal

SinrScale = Literal["db", "fifth_db"]

#: 3GPP <stat> values that mean "registered" (home, roaming, SMS-only, CSFB-not-preferred).
REGISTERED = {1, 5, 6, 7, 9, 10}
#: 3GPP <stat> -> Appendix A reg_status (0 idle, 1 home, 2 searching, 3 denied, 4 unknown, 5 roaming).
_REG_STATUS = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 1, 7: 5, 8: 4, 9: 1, 10: 5}
#: 3GPP <AcT> -> Appendix A network (1 2G, 2 3G, 3 4G, 4 5G since FlexAPI 1.0.9).
_NETWORK = {0: 1, 1: 1, 3: 1, 8: 1, 2: 2, 4: 2, 5: 2, 6: 2, 7: 3, 9: 3, 10: 3, 11: 4, 12: 4, 13: 4}
#: 3GPP <AcT> of 5G -> modem1.submode: NR on the 5G core (standalone), or E-UTRA-NR dual connectivity.
SUBMODES = {11: "SA", 12: "SA", 13: "NSA"}
FIVE_G = 4
_QENG_RATS = {"LTE": 3, "CAT-M": 3, "CAT-NB": 3, "NR5G-SA": FIVE_G, "WCDMA": 2, "TDSCDMA": 2, "GSM": 1}


@dataclass(frozen=True)
class Registration:
    """One ``+CREG``/``+CGREG``/``+CEREG`` reading."""

    stat: int | None
    lac: str | None = None
    ci: str | None = None
    act: int | None = None

    @property
    def registered(self) -> bool:
        return self.stat in REGISTERED


def split_fields(text: str) -> list[str]:
    """Comma-separated fields with quotes and padding removed (commas inside quotes kept)."""
    row = next(csv.reader([text.strip()], skipinitialspace=True), [])
    return [field.strip().strip('"').strip() for field in row]


def find_fields(lines: list[str], prefix: str) -> list[str] | None:
    """Fields of the first line starting with ``prefix`` (e.g. ``+CSQ``), case-insensitive."""
    for line in lines:
        head, sep, rest = line.partition(":")
        if sep and head.strip().upper() == prefix.upper():
            return split_fields(rest)
    return None


def to_int(text: str | None) -> int | None:
    try:
        return int(text) if text not in (None, "", "-") else None  # type: ignore[arg-type]
    except ValueError:
        return None


def to_hex(text: str | None, invalid: tuple[int, ...] = ()) -> str | None:
    """Normalise a hexadecimal LAC/TAC/cell id: upper case, no leading zeros, None when invalid."""
    if not text or not re.fullmatch(r"[0-9A-Fa-f]+", text):
        return None
    value = int(text, 16)
    return None if value in invalid else f"{value:X}"


def parse_csq(lines: list[str]) -> dict[str, int | None]:
    """``+CSQ: <rssi>,<ber>`` -> signal level in asu (0..31) and RSSI in dBm (-113 + 2*asu)."""
    fields = find_fields(lines, "+CSQ") or []
    asu = to_int(fields[0]) if fields else None
    if asu is None or not 0 <= asu <= 31:
        return {"signal_lvl": None, "rssi": None}
    return {"signal_lvl": asu, "rssi": -113 + 2 * asu}


def parse_registration(lines: list[str], prefix: str) -> Registration | None:
    """Solicited ``+CREG?``/``+CEREG?`` answer: ``<n>,<stat>[,<lac>,<ci>[,<AcT>]]``."""
    fields = find_fields(lines, prefix)
    if not fields or len(fields) < 2:
        return None
    stat = to_int(fields[1])
    if stat is None or stat not in _REG_STATUS:
        return Registration(None)
    lac = to_hex(fields[2], (0xFFFF, 0xFFFE)) if len(fields) > 3 else None
    ci = to_hex(fields[3], (0xFFFFFFFF,)) if len(fields) > 3 else None
    act = to_int(fields[4]) if len(fields) > 4 else None
    return Registration(stat, lac, ci, act)


def best_registration(*readings: Registration | None) -> Registration | None:
    """The first registered reading (LTE first when given first), else the first known one."""
    known = [r for r in readings if r is not None and r.stat is not None]
    for reading in known:
        if reading.registered:
            return reading
    return known[0] if known else None


def reg_status(reading: Registration | None) -> int | None:
    return _REG_STATUS.get(reading.stat) if reading and reading.stat is not None else None


def network_type(act: int | None, registered: bool) -> int | None:
    """Appendix A ``network``: 0 when not registered, else 1/2/3/4 from the access technology."""
    if not registered:
        return 0
    return _NETWORK.get(act) if act is not None else None


def parse_cops(lines: list[str]) -> tuple[str | None, int | None]:
    """``+COPS: <mode>[,<format>,<oper>[,<AcT>]]`` -> (operator, access technology)."""
    fields = find_fields(lines, "+COPS") or []
    operator = fields[2] if len(fields) > 2 and fields[2] else None
    act = to_int(fields[3]) if len(fields) > 3 else None
    return operator, act


def _digits_token(lines: list[str], pattern: str) -> str | None:
    for line in lines:
        body = line.split(":", 1)[1] if ":" in line else line
        for token in split_fields(body):
            if re.fullmatch(pattern, token):
                return token
    return None


def parse_imei(lines: list[str]) -> str | None:
    """``AT+CGSN``: bare digits, ``+CGSN: "<imei>"`` or ``<imei>,<serial>`` -> 15-digit IMEI."""
    return _digits_token(lines, r"\d{15}")


def parse_imsi(lines: list[str]) -> str | None:
    return _digits_token(lines, r"\d{6,15}")


def parse_iccid(lines: list[str]) -> str | None:
    """``+QCCID``/``+CCID``/``+ICCID``/bare: 18..22 hex-digit ICCID, padding ``F`` removed."""
    token = _digits_token(lines, r"[0-9A-Fa-f]{18,22}")
    return token.upper().rstrip("F") if token else None


def parse_cnum(lines: list[str]) -> str | None:
    """``+CNUM: [<alpha>],<number>,<type>[,...]`` -> the first subscriber number, None when unset."""
    fields = find_fields(lines, "+CNUM") or []
    return fields[1] if len(fields) > 1 and fields[1] else None


def parse_cesq(lines: list[str]) -> dict[str, float | int | None]:
    """``+CESQ: <rxlev>,<ber>,<rscp>,<ecno>,<rsrq>,<rsrp>``: RSRQ/RSRP lower bounds (dB/dBm)."""
    fields = find_fields(lines, "+CESQ") or []
    rsrq = to_int(fields[4]) if len(fields) > 5 else None
    rsrp = to_int(fields[5]) if len(fields) > 5 else None
    return {
        "rsrq": -20 + 0.5 * rsrq if rsrq is not None and 0 <= rsrq <= 34 else None,
        "rsrp": -141 + rsrp if rsrp is not None and 0 <= rsrp <= 97 else None,
        "sinr": None,
    }


def _qeng_fields(lines: list[str]) -> list[str]:
    fields: list[str] = []
    for line in lines:
        head, sep, rest = line.partition(":")
        if sep and head.strip().upper() == "+QENG":
            fields += split_fields(rest)
    return fields


def _float(text: str | None) -> float | None:
    value = to_int(text)
    return float(value) if value is not None else None


def _sinr(text: str | None, scale: SinrScale) -> float | None:
    value = to_int(text)
    if value is None:
        return None
    return round(value / 5 - 20, 1) if scale == "fifth_db" else float(value)


def parse_qeng(lines: list[str], sinr_scale: SinrScale = "db") -> dict[str, Any]:
    """Quectel ``+QENG: "servingcell",...`` (single- or multi-line): LTE/NR signal and cell.

    5G: a ``"NR5G-SA"`` serving cell is standalone; an ``"NR5G-NSA"`` line beside the LTE
    anchor (EN-DC) is non-standalone, whose signal and cell are the anchor's.
    """
    fields = _qeng_fields(lines)
    rat = next((f for f in fields if f.upper() in _QENG_RATS), None)
    out: dict[str, Any] = {"rsrp": None, "rsrq": None, "sinr": None, "rssi": None, "network": None, "submode": None}
    if rat is None:
        return out
    at = fields.index(rat)
    out["network"] = _QENG_RATS[rat.upper()]
    if rat.upper() == "NR5G-SA":
        out["submode"] = "SA"
    elif any(f.upper() == "NR5G-NSA" for f in fields):
        out.update(network=FIVE_G, submode="NSA")

    def get(offset: int) -> str | None:
        return fields[at + offset] if at + offset < len(fields) else None

    if rat.upper() in ("LTE", "CAT-M", "CAT-NB"):
        out.update(rsrp=to_int(get(11)), rsrq=_float(get(12)), rssi=to_int(get(13)), sinr=_sinr(get(14), sinr_scale))
        out.update(lac=to_hex(get(10)), cell_id=to_hex(get(4)))
    elif rat.upper() == "NR5G-SA":
        out.update(rsrp=to_int(get(10)), rsrq=_float(get(11)), sinr=_sinr(get(12), "db"))
        out.update(lac=to_hex(get(6)), cell_id=to_hex(get(4)))
    return out


def parse_qdsim(lines: list[str]) -> int | None:
    """Quectel ``+QDSIM: <slot>`` (0-based) -> Appendix A ``active_sim`` (1 or 2)."""
    fields = find_fields(lines, "+QDSIM") or []
    slot = to_int(fields[0]) if fields else None
    return slot + 1 if slot in (0, 1) else None


def parse_cell(lines: list[str], sinr_scale: SinrScale = "db") -> dict[str, Any]:
    """Serving-cell signal from whichever of ``+QENG`` or ``+CESQ`` the modem answered."""
    if find_fields(lines, "+CESQ") is not None:
        return {**parse_cesq(lines), "rssi": None, "network": None, "submode": None}
    return parse_qeng(lines, sinr_scale)


def radio_mode(act: int | None, cell: dict[str, Any], registered: bool) -> tuple[int | None, str | None]:
    """``(network, submode)``: 5G (4) with SA/NSA from the access technology, else from ``+QENG``."""
    if not registered:
        return network_type(act, registered), None
    submode = SUBMODES.get(act) if act is not None else None
    submode = submode or cell.get("submode")
    if submode:
        return FIVE_G, submode
    network = network_type(act, registered)
    return (cell["network"] if network is None else network), None


def modem_values(answers: dict[str, list[str] | None], sinr_scale: SinrScale = "db") -> dict[str, Any]:
    """Appendix A ``modem1.*`` values (without prefix) from the answers of one polling round.

    ``answers`` maps a query name (csq, creg, cereg, c5greg, cops, imei, imsi, iccid,
    cnum, cell, sim) to its response lines, or None when the modem answered ERROR.
    Registration: 5GS (``+C5GREG``) first, then EPS (``+CEREG``), then ``+CREG``.
    """

    def lines(name: str) -> list[str]:
        return answers.get(name) or []

    csq = parse_csq(lines("csq"))
    cell = parse_cell(lines("cell"), sinr_scale)
    reg = best_registration(
        parse_registration(lines("c5greg"), "+C5GREG"),
        parse_registration(lines("cereg"), "+CEREG"),
        parse_registration(lines("creg"), "+CREG"),
    )
    operator, cops_act = parse_cops(lines("cops"))
    registered = bool(reg and reg.registered)
    act = cops_act if cops_act is not None else reg.act if reg else None
    network, submode = radio_mode(act, cell, registered)
    return {
        "active_sim": parse_qdsim(lines("sim")),
        "imei": parse_imei(lines("imei")),
        "imsi": parse_imsi(lines("imsi")),
        "iccid": parse_iccid(lines("iccid")),
        "phone_num": parse_cnum(lines("cnum")),
        "signal_lvl": csq["signal_lvl"],
        "reg_status": reg_status(reg),
        "operator": operator if registered else None,
        "network": network,
        "submode": submode,
        "lac": ((reg.lac if reg else None) or cell.get("lac")) if registered else None,
        "cell_id": ((reg.ci if reg else None) or cell.get("cell_id")) if registered else None,
        "rssi": cell["rssi"] if cell["rssi"] is not None else csq["rssi"],
        "rsrp": cell["rsrp"],
        "rsrq": cell["rsrq"],
        "sinr": cell["sinr"],
    }
