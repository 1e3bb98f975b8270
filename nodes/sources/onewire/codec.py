"""1-wire codecs: pure functions over w1 sysfs names and ``w1_slave`` contents.

A device's FlexAPI id is its 64-bit ROM code printed most significant byte
first, i.e. CRC, the 48-bit serial, then the family code. The kernel names the
device ``<family>-<serial>`` (serial as a 48-bit number in hex), so the id is
``crc8(rom) + serial + family``: ``28-012029901e79`` -> ``aa012029901e7928``.
"""

from __future__ import annotations

import re

#: Family codes of the temperature sensors (DS18S20, DS1822, DS18B20, DS1825, DS28EA00).
TEMPERATURE_FAMILIES = frozenset({"10", "22", "28", "3b", "42"})
_NAME = re.compile(r"([0-9a-f]{2})-([0-9a-f]{12})")


class W1ReadError(ValueError):
    """A ``w1_slave`` reading that must not be trusted (CRC failed, bus shorted, malformed)."""


def crc8(data: bytes) -> int:
    """Dallas/Maxim CRC-8 (polynomial x^8 + x^5 + x^4 + 1, reflected 0x8C)."""
    crc = 0
    for byte in data:
        for _ in range(8):
            mix = (crc ^ byte) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
            byte >>= 1
    return crc


def split_name(name: str) -> tuple[str, str] | None:
    """``"28-012029901e79"`` -> ``("28", "012029901e79")``; None for anything else (bus masters)."""
    match = _NAME.fullmatch(name.lower())
    return (match[1], match[2]) if match else None


def rom_id(name: str) -> str:
    """The reference-style id of a sysfs device name (see the module docstring)."""
    parts = split_name(name)
    if parts is None:
        raise ValueError(f"not a 1-wire device name: {name!r}")
    family, serial = parts
    rom = bytes.fromhex(family) + bytes.fromhex(serial)[::-1]
    return f"{crc8(rom):02x}{serial}{family}"


def parse_w1_slave(text: str) -> float:
    """Temperature in °C (2 decimals) from a ``w1_slave`` file; raises :class:`W1ReadError`.

    Checks the kernel's verdict (``crc=xx YES``), recomputes the scratchpad CRC,
    and rejects the all-zero scratchpad a shorted data line reads (its CRC is 0).
    """
    lines = text.strip().splitlines()
    verdict = re.fullmatch(r"((?:[0-9a-f]{2} ){9}): crc=([0-9a-f]{2}) (YES|NO)", lines[0].strip()) if lines else None
    reading = re.search(r"t=(-?\d+)\s*$", lines[1]) if len(lines) > 1 else None
    if verdict is None or reading is None:
        raise W1ReadError("malformed w1_slave contents")
    scratchpad = bytes.fromhex(verdict[1])
    if verdict[3] != "YES" or crc8(scratchpad[:8]) != scratchpad[8] or int(verdict[2], 16) != scratchpad[8]:
        raise W1ReadError(f"CRC check failed ({lines[0].strip()})")
    if not any(scratchpad):
        raise W1ReadError("all-zero scratchpad (data line held low)")
    return round(int(reading[1]) / 1000, 2)


def scratchpad(celsius: float) -> bytes:
    """A DS18B20 scratchpad (12-bit) holding ``celsius``, with its CRC: what a real sensor sends."""
    raw = round(celsius * 16) & 0xFFFF
    body = bytes([raw & 0xFF, raw >> 8, 0x4B, 0x46, 0x7F, 0xFF, 0x0C, 0x10])
    return body + bytes([crc8(body)])


def format_w1_slave(pad: bytes, verdict: bool | None = None) -> str:
    """``w1_slave`` text as the kernel's w1_therm driver prints it for a DS18B20 scratchpad."""
    ok = crc8(pad[:8]) == pad[8] if verdict is None else verdict
    raw = int.from_bytes(pad[:2], "little", signed=True)
    hexes = " ".join(f"{b:02x}" for b in pad)
    return f"{hexes} : crc={pad[8]:02x} {'YES' if ok else 'NO'}\n{hexes} t={int(raw * 1000 / 16)}\n"
