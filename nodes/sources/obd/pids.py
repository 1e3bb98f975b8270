"""Pure SAE J1979 decoding: Mode 01 PIDs into FlexAPI ``obd.*`` values (Appendix A.4).

Each decoder takes the data bytes after ``41 <pid>`` and returns the A.4 keys it fills,
with Appendix A types (int, float, 0/1 for booleans). No I/O here.

Keys without a J1979 PID are never decoded here: ``obd.brake``, ``obd.parking``,
``obd.s_w_angle``, ``obd.max_avl_torque`` and ``obd.c_s_a_s_mon`` come from manufacturer
DIDs (:mod:`.dids`); the brake pressures are "unavailable" in A.4 and stay None.

Readiness monitors (PID 01/41 bytes C and D) by ignition type. FlexAPI names some
monitors twice (the J1979 and the J1939 DM5 name); a bit fills every name it stands for:
spark ignition: the oxygen sensor bit fills ``o_s_mon`` and ``e_g_s_mon`` (a petrol
engine's exhaust gas sensors are its oxygen sensors), the oxygen sensor heater bit fills
``o_s_h_mon`` and ``e_g_s_h_mon``; compression ignition: the exhaust gas sensor bit fills
``e_g_s_mon`` only (NOx and PM sensors are not oxygen sensors) and the PM filter bit fills
``pf_mon`` and ``dpf_mon``. No bit exists for the cold start aid monitor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MODE01_REPLY = 0x41
MODE09_REPLY = 0x49
FUEL_DENSITY_G_PER_L = 745.0
STOICHIOMETRIC = 14.7

KEYS = (
    "obd.vin", "obd.e_load", "obd.c_temp", "obd.rpm", "obd.speed", "obd.f_lvl", "obd.f_rate", "obd.dtcs",
    "obd.mil", "obd.b_volt", "obd.a_temp", "obd.o_temp", "obd.up_time", "obd.m_dist", "obd.d_dist",
    "obd.m_time", "obd.d_time", "obd.f_press", "obd.t_pos", "obd.brake", "obd.parking", "obd.s_w_angle",
    "obd.f_econ", "obd.odo", "obd.a_pos", "obd.t_dist", "obd.i_temp", "obd.i_press", "obd.b_press",
    "obd.f_r_press", "obd.r_torque", "obd.f_torque", "obd.max_avl_torque", "obd.a_torque", "obd.d_e_f_vol",
    "obd.mf_mon", "obd.f_s_mon", "obd.c_c_mon", "obd.c_mon", "obd.h_c_mon", "obd.e_s_mon", "obd.s_a_s_mon",
    "obd.a_s_r_mon", "obd.e_g_s_mon", "obd.e_g_s_h_mon", "obd.e_v_s_mon", "obd.c_s_a_s_mon", "obd.b_p_c_s_mon",
    "obd.dpf_mon", "obd.n_c_mon", "obd.nmhc_mon", "obd.o_s_mon", "obd.o_s_h_mon", "obd.pf_mon",
    "obd.brake_prim_press", "obd.brake_sec_press",
)  # fmt: skip

#: Continuous monitors: PID 01 byte B, bit n supported / bit n+4 incomplete.
CONTINUOUS = ("obd.mf_mon", "obd.f_s_mon", "obd.c_c_mon")
#: Non-continuous monitors, bytes C (supported) / D (incomplete), by ignition type.
SPARK: tuple[tuple[str, ...], ...] = (
    ("obd.c_mon",),  # catalyst
    ("obd.h_c_mon",),  # heated catalyst
    ("obd.e_s_mon",),  # evaporative system
    ("obd.s_a_s_mon",),  # secondary air system
    ("obd.a_s_r_mon",),  # A/C refrigerant
    ("obd.o_s_mon", "obd.e_g_s_mon"),  # oxygen sensor
    ("obd.o_s_h_mon", "obd.e_g_s_h_mon"),  # oxygen sensor heater
    ("obd.e_v_s_mon",),  # EGR and/or VVT
)
COMPRESSION: tuple[tuple[str, ...], ...] = (
    ("obd.nmhc_mon",),  # NMHC catalyst
    ("obd.n_c_mon",),  # NOx/SCR aftertreatment
    (),  # reserved
    ("obd.b_p_c_s_mon",),  # boost pressure
    (),  # reserved
    ("obd.e_g_s_mon",),  # exhaust gas sensor
    ("obd.pf_mon", "obd.dpf_mon"),  # PM filter
    ("obd.e_v_s_mon",),  # EGR and/or VVT
)
MONITOR_KEYS = tuple(k for k in KEYS if k.endswith("_mon"))


def word(data: bytes) -> int:
    return (data[0] << 8) | data[1]


def pct(a: int) -> float:
    return round(a * 100.0 / 255.0, 2)


def monitors(data: bytes) -> dict[str, int | None]:
    """Readiness from PID 01 or 41: 1 completed, 0 not completed, None not supported."""
    out: dict[str, int | None] = dict.fromkeys(MONITOR_KEYS)
    b, c, d = data[1], data[2], data[3]
    for bit, key in enumerate(CONTINUOUS):
        if b & (1 << bit):
            out[key] = 0 if b & (1 << (bit + 4)) else 1
    for bit, keys in enumerate(COMPRESSION if b & 0x08 else SPARK):
        for key in keys:
            if c & (1 << bit):
                out[key] = 0 if d & (1 << bit) else 1
    return out


def status_since_clear(data: bytes) -> dict[str, Any]:
    """PID 01: MIL, DTC count and the readiness monitors since DTCs were cleared."""
    return {"obd.mil": data[0] >> 7, "obd.dtcs": data[0] & 0x7F, **monitors(data)}


def _one(key: str, fn: Callable[[bytes], Any]) -> Callable[[bytes], dict[str, Any]]:
    return lambda data: {key: fn(data)}


#: PID -> (data length, decoder). Formulas from SAE J1979 / ISO 15031-5.
MODE01: dict[int, tuple[int, Callable[[bytes], dict[str, Any]]]] = {
    0x01: (4, status_since_clear),
    0x04: (1, _one("obd.e_load", lambda d: pct(d[0]))),
    0x05: (1, _one("obd.c_temp", lambda d: d[0] - 40)),
    0x0A: (1, _one("obd.f_press", lambda d: 3 * d[0])),
    0x0B: (1, _one("obd.i_press", lambda d: d[0])),
    0x0C: (2, _one("obd.rpm", lambda d: word(d) / 4.0)),
    0x0D: (1, _one("obd.speed", lambda d: d[0])),
    0x0F: (1, _one("obd.i_temp", lambda d: d[0] - 40)),
    0x10: (2, _one("maf", lambda d: word(d) / 100.0)),
    0x11: (1, _one("obd.t_pos", lambda d: pct(d[0]))),
    0x1F: (2, _one("obd.up_time", word)),
    0x21: (2, _one("obd.m_dist", word)),
    0x23: (2, _one("obd.f_r_press", lambda d: 10 * word(d))),
    0x2F: (1, _one("obd.f_lvl", lambda d: pct(d[0]))),
    0x31: (2, _one("obd.d_dist", word)),
    0x33: (1, _one("obd.b_press", lambda d: d[0])),
    0x41: (4, monitors),
    0x42: (2, _one("obd.b_volt", lambda d: word(d) / 1000.0)),
    0x46: (1, _one("obd.a_temp", lambda d: d[0] - 40)),
    0x49: (1, _one("obd.a_pos", lambda d: pct(d[0]))),
    0x4A: (1, _one("obd.a_pos", lambda d: pct(d[0]))),
    0x4D: (2, _one("obd.m_time", word)),
    0x4E: (2, _one("obd.d_time", word)),
    0x5C: (1, _one("obd.o_temp", lambda d: d[0] - 40)),
    0x5E: (2, _one("obd.f_rate", lambda d: word(d) / 20.0)),
    0x62: (1, _one("obd.a_torque", lambda d: float(d[0] - 125))),
    0x63: (2, _one("obd.r_torque", word)),
    0x8E: (1, _one("obd.f_torque", lambda d: float(d[0] - 125))),
    0x9B: (4, _one("obd.d_e_f_vol", lambda d: pct(d[3]))),
    0xA6: (4, _one("obd.odo", lambda d: int.from_bytes(d[:4], "big") / 10.0)),
}

#: The supported-PID bitmaps: 00, 20, 40 ... each says which of the next 32 PIDs answer.
BITMAP_PIDS = tuple(range(0x00, 0x100, 0x20))


def decode(pid: int, data: bytes) -> dict[str, Any]:
    """Values from the data bytes of one ``41 <pid>`` reply; ValueError when too short or unknown."""
    if pid not in MODE01:
        raise ValueError(f"PID {pid:02X} is not decoded")
    size, fn = MODE01[pid]
    if len(data) < size:
        raise ValueError(f"PID {pid:02X} needs {size} data byte(s), got {len(data)}")
    return fn(bytes(data[:size]))


def supported(base: int, data: bytes) -> set[int]:
    """PIDs announced by bitmap PID ``base`` (bit 7 of the first byte is PID base+1)."""
    if len(data) < 4:
        raise ValueError(f"bitmap PID {base:02X} needs 4 data bytes, got {len(data)}")
    bits = int.from_bytes(data[:4], "big")
    return {base + i + 1 for i in range(32) if bits & (1 << (31 - i))}


def parse_single_frame(frame: bytes) -> tuple[int, int, bytes] | None:
    """``(mode reply, pid, data)`` from an ISO-TP single frame, None if it is not one."""
    if len(frame) < 3 or not 1 <= frame[0] <= 7 or frame[0] + 1 > len(frame):
        return None
    payload = frame[1 : 1 + frame[0]]
    if payload[0] == 0x7F or len(payload) < 2:
        return None
    return payload[0], payload[1], bytes(payload[2:])


def decode_vin(payload: bytes) -> str:
    """VIN from a Mode 09 PID 02 reply (``49 02 01`` + 17 ASCII characters)."""
    if len(payload) < 3 or payload[0] != MODE09_REPLY or payload[1] != 0x02:
        raise ValueError(f"not a VIN reply: {payload[:3].hex(' ')}")
    text = payload[3:].decode("ascii", "replace").strip("\x00 ").upper()
    if len(text) != 17 or not text.isalnum():
        raise ValueError(f"VIN must be 17 letters and digits, got {text!r}")
    return text


def fuel_rate_from_maf(maf_gps: float) -> float:
    """Petrol fuel rate (l/h) from mass air flow at a stoichiometric mixture (when PID 5E is missing)."""
    return round(maf_gps * 3600.0 / (STOICHIOMETRIC * FUEL_DENSITY_G_PER_L), 2)
