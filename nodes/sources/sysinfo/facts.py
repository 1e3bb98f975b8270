"""Reading the device's identity from the OS: hostname, time zone, MAC addresses, serial.

Pure file reads under configurable roots (a fake tree in tests and simulation).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path

_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")


def read_text(path: Path) -> str | None:
    """Stripped file contents, None when missing, unreadable or empty."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().strip("\x00")
    except OSError:
        return None
    return text or None


def mac_address(sys_net: Path, candidates: list[str]) -> str | None:
    """The MAC of the first candidate interface that exists (``aa:bb:cc:dd:ee:ff``)."""
    for iface in candidates:
        text = (read_text(sys_net / iface / "address") or "").lower()
        if _MAC.fullmatch(text) and text != "00:00:00:00:00:00":
            return text
    return None


def timezone(etc: Path) -> str | None:
    """``/etc/timezone``, else the zone the ``/etc/localtime`` link points to, else ``$TZ``."""
    named = read_text(etc / "timezone")
    if named:
        return named
    try:
        target = os.readlink(etc / "localtime")
    except OSError:
        target = ""
    if "zoneinfo/" in target:
        return target.split("zoneinfo/", 1)[1]
    return os.environ.get("TZ") or None


#: Key of the serial derived from ``/etc/machine-id`` (fixed: the same machine always gets the same serial).
SERIAL_APP_ID = bytes.fromhex("5a1c6e3f0b8d4f27a9e2c41d7b6f0e93")


def serial_number(paths: list[Path]) -> str | None:
    """The first readable serial (device tree, machine id ...).

    A machine id is never published as it is: machine-id(5) asks that it be kept
    confidential and that an application use a keyed hash of it instead, so the
    serial is an HMAC-SHA256 of a fixed application id keyed by the machine id.
    """
    for path in paths:
        text = read_text(path)
        if text:
            return app_specific_id(text) if path.name == "machine-id" else text
    return None


def app_specific_id(machine_id: str) -> str:
    """16 hex digits identifying this machine to this application only (stable, not reversible)."""
    digest = hmac.new(machine_id.strip().lower().encode(), SERIAL_APP_ID, hashlib.sha256).hexdigest()
    return digest[:16].upper()
