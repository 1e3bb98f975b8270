"""Pure SAE J1979 Mode 03 decoding: stored diagnostic trouble codes (SAE J2012 / ISO 15031-6 format).

A reply on CAN (ISO 15765-4) is ``43 <count> <A B>...``: each code is two bytes,
A bits 7-6 the system (P powertrain, C chassis, B body, U network), bits 5-4 the first
digit (0-3), bits 3-0 the second, B the third and fourth (hex). ``00 00`` pads.
Replies of other transports carry no count byte; both forms are read. No I/O here.
"""

from __future__ import annotations

from nodes.sources.obd.dtc_names import DESCRIPTIONS

MODE03_REQUEST = b"\x03"
MODE03_REPLY = 0x43
SYSTEMS = "PCBU"


def decode_dtc(high: int, low: int) -> str:
    """``0x03 0x01`` -> ``"P0301"``."""
    return f"{SYSTEMS[high >> 6]}{(high >> 4) & 0x3}{high & 0xF:X}{low:02X}"


def decode_dtcs(payload: bytes) -> list[str]:
    """Codes of a Mode 03 reply, in the ECU's order, without padding or repeats; ValueError when not one."""
    if not payload or payload[0] != MODE03_REPLY:
        raise ValueError(f"not a Mode 03 reply: {payload[:3].hex(' ')}")
    body = payload[1:]
    if body and len(body) % 2 == 1 and 2 * body[0] <= len(body) - 1:
        body = body[1 : 1 + 2 * body[0]]  # CAN: a count byte first
    elif len(body) % 2:
        raise ValueError(f"Mode 03 reply of odd length: {payload.hex(' ')}")
    codes: list[str] = []
    for i in range(0, len(body), 2):
        if body[i] or body[i + 1]:
            code = decode_dtc(body[i], body[i + 1])
            if code not in codes:
                codes.append(code)
    return codes


def describe(codes: list[str]) -> dict[str, str]:
    """A short description of each code (``""`` for codes the table does not know)."""
    return {code: DESCRIPTIONS.get(code, "") for code in codes}
