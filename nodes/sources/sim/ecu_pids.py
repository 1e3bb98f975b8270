"""Pure encoding of the simulated vehicle's state into SAE J1979 Mode 01 data bytes (the ECU side).

Written from the standard's scalings independently of the decoder, so the simulated
ECU checks the decoder rather than mirroring it. The readiness bits follow the engine's
ignition type (PID 01 byte B bit 3); only a diesel announces DEF (PID 9B).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from nodes.sources.sim.vehicle import MONITORS, VehicleState

#: Monitor name -> bit in PID 01/41 bytes C (supported) and D (incomplete), by ignition type.
NON_CONTINUOUS_BITS = {
    "spark": {"c": 0, "h_c": 1, "e_s": 2, "s_a_s": 3, "a_s_r": 4, "o_s": 5, "o_s_h": 6, "e_v_s": 7},
    "compression": {"nmhc": 0, "n_c": 1, "b_p_c_s": 3, "e_g_s": 5, "pf": 6, "e_v_s": 7},
}
CONTINUOUS_BITS = {"mf": 0, "f_s": 1, "c_c": 2}
COMPRESSION_BIT = 0x08  # PID 01/41 byte B bit 3
DIESEL_ONLY = frozenset({0x9B})


def _u8(value: float) -> bytes:
    return bytes([max(0, min(255, round(value)))])


def _u16(value: float) -> bytes:
    return max(0, min(0xFFFF, round(value))).to_bytes(2, "big")


def _pct(value: float) -> bytes:
    return _u8(value * 255.0 / 100.0)


def monitor_bytes(s: VehicleState, complete: dict[str, bool], with_status: bool) -> bytes:
    """Bytes A-D of PID 01 (``with_status``: MIL and DTC count in A) or PID 41 (A reserved)."""
    a = ((0x80 if s.mil else 0) | min(s.dtc_count, 0x7F)) if with_status else 0
    b = COMPRESSION_BIT if s.engine == "compression" else 0
    c = d = 0
    for name in MONITORS[s.engine]:
        if name in CONTINUOUS_BITS:
            bit = CONTINUOUS_BITS[name]
            b |= (1 << bit) | (0 if complete[name] else 1 << (bit + 4))
        else:
            bit = NON_CONTINUOUS_BITS[s.engine][name]
            c |= 1 << bit
            d |= 0 if complete[name] else 1 << bit
    return bytes([a, b, c, d])


ENCODERS: dict[int, Callable[[VehicleState], bytes]] = {
    0x01: lambda s: monitor_bytes(s, s.monitors_complete, True),
    0x04: lambda s: _pct(s.load),
    0x05: lambda s: _u8(s.coolant_c + 40),
    0x0A: lambda s: _u8(s.fuel_pressure_kpa / 3),
    0x0B: lambda s: _u8(s.map_kpa),
    0x0C: lambda s: _u16(s.rpm * 4),
    0x0D: lambda s: _u8(s.speed_kmh),
    0x0F: lambda s: _u8(s.intake_c + 40),
    0x10: lambda s: _u16(s.maf_gps * 100),
    0x11: lambda s: _pct(s.throttle),
    0x1F: lambda s: _u16(s.run_time_s),
    0x21: lambda s: _u16(0),
    0x23: lambda s: _u16(s.fuel_rail_kpa / 10),
    0x2F: lambda s: _pct(s.fuel_level),
    0x31: lambda s: _u16(s.dist_since_clear_km),
    0x33: lambda s: _u8(s.baro_kpa),
    0x41: lambda s: monitor_bytes(s, s.cycle_monitors_complete, False),
    0x42: lambda s: _u16(s.battery_v * 1000),
    0x46: lambda s: _u8(s.ambient_c + 40),
    0x49: lambda s: _pct(s.accel_pedal),
    0x4D: lambda s: _u16(0),
    0x4E: lambda s: _u16(s.time_since_clear_min),
    0x5C: lambda s: _u8(s.oil_c + 40),
    0x5E: lambda s: _u16(s.fuel_rate * 20),
    0x62: lambda s: _u8(s.torque_pct + 125),
    0x63: lambda s: _u16(s.reference_torque_nm),
    0x8E: lambda s: _u8(s.friction_torque_pct + 125),
    0x9B: lambda s: bytes([0x00]) + _pct(32.5) + _u8(s.ambient_c + 40) + _pct(s.def_level or 0.0),
    0xA6: lambda s: max(0, round(s.odometer_km * 10)).to_bytes(4, "big"),
}


def bitmap(base: int, pids: frozenset[int]) -> bytes:
    """Bitmap PID ``base``: bit for each supported PID in base+1..base+32 (base+32 = next bitmap)."""
    bits = 0
    for i in range(32):
        if base + i + 1 in pids:
            bits |= 1 << (31 - i)
    return bits.to_bytes(4, "big")


@cache
def supported_pids(engine: str = "spark") -> frozenset[int]:
    """Data PIDs of this engine plus the bitmap PIDs needed to announce them."""
    pids = set(ENCODERS) - (DIESEL_ONLY if engine != "compression" else set())
    top = max(pids)
    pids |= {b for b in range(0x20, top, 0x20)}
    return frozenset(pids)


def encode(pid: int, state: VehicleState) -> bytes | None:
    """Data bytes for ``41 <pid>``, None when the simulated ECU does not support the PID."""
    pids = supported_pids(state.engine)
    if pid % 0x20 == 0 and pid <= max(pids):
        return bitmap(pid, pids)
    fn = ENCODERS.get(pid) if pid in pids else None
    return fn(state) if fn else None
