"""Settings an integrator gives the simulator (``sim/{client_id}/control``, scenario files), checked.

A body is a JSON object of settings, e.g. ``{"vehicle.target_speed": 130, "io.DI2": 0}``.
:func:`parse_commands` checks every key and value and returns the commands in a normal
form, or raises :class:`CommandError` naming the first bad field; nothing is applied
unless the whole body is valid. Pure: no vehicle, no I/O.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_SPEED_KMH = 200.0
BRAKE_G = (0.1, 1.2)
STOP_S = (1.0, 3600.0)
MAX_DI = 6
MAX_DTCS = 32
DTC_PATTERN = re.compile(r"[PCBU][0-3][0-9A-F]{3}")
#: Keys that order the driver (the route); the rest set the world around the vehicle.
DRIVER_KEYS = ("vehicle.target_speed", "vehicle.ignition", "vehicle.brake", "vehicle.stop")


class CommandError(ValueError):
    """A setting the simulator cannot take; ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Command:
    """One checked setting: ``value`` is normalised (km/h and g as float, 0/1 as int, codes upper case)."""

    key: str
    value: Any


@dataclass(frozen=True)
class Wiring:
    """How the simulated harness is wired: which inputs exist and which one the ignition drives."""

    inputs: int = MAX_DI
    ignition_input: int = 1  # 0: the ignition drives no input
    track: bool = False  # a replayed track drives the vehicle: no driver orders


def parse_commands(settings: Mapping[str, Any], wiring: Wiring | None = None) -> list[Command]:
    """Every setting checked, in the given order; CommandError for the first bad one."""
    wiring = wiring or Wiring()
    if not settings:
        raise CommandError("payload", "no settings given")
    return [_command(str(key), value, wiring) for key, value in settings.items()]


def _command(key: str, value: Any, wiring: Wiring) -> Command:
    if key in DRIVER_KEYS and wiring.track:
        raise CommandError(key, "the simulated vehicle replays a track ([sources.vehicle] track): it takes no orders")
    check = _CHECKS.get(key)
    if check is not None:
        return Command(key, check(key, value))
    match = re.fullmatch(r"io\.DI(\d+)", key)
    if match:
        return Command(key, _digital_input(key, int(match[1]), value, wiring))
    raise CommandError(key, f"unknown setting{_suggestion(key)}")


def _suggestion(key: str) -> str:
    known = [*_CHECKS, *(f"io.DI{n}" for n in range(1, MAX_DI + 1))]
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(_CHECKS)}, io.DI<n>)"


def _number(key: str, value: Any, low: float, high: float, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise CommandError(key, f"must be a number ({unit}), got {value!r:.40}")
    if not low <= value <= high:
        raise CommandError(key, f"must be between {low:g} and {high:g} {unit}, got {value:g}")
    return float(value)


def _zero_one(key: str, value: Any) -> int:
    if isinstance(value, bool) or value not in (0, 1) or isinstance(value, float):
        raise CommandError(key, f"must be 0 or 1, got {value!r:.40}")
    return int(value)


def _target_speed(key: str, value: Any) -> float | None:
    return None if value is None else _number(key, value, 0.0, MAX_SPEED_KMH, "km/h")


def _brake(key: str, value: Any) -> float:
    return _number(key, value, *BRAKE_G, "g")


def _stop(key: str, value: Any) -> float:
    return _number(key, value, *STOP_S, "s")


def _dtc(key: str, value: Any) -> str | None:
    """A stored trouble code to add (``P0301``), or None to clear them all (``null`` or ``"clear"``)."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "clear"):
        return None
    code = value.strip().upper() if isinstance(value, str) else None
    if code is None or not DTC_PATTERN.fullmatch(code):
        raise CommandError(key, f'must be a trouble code such as "P0301" (P, C, B or U, 0-3, three hex digits), '
                                f'"clear" or null, got {value!r:.40}')  # fmt: skip
    return code


def _digital_input(key: str, n: int, value: Any, wiring: Wiring) -> int:
    if not 1 <= n <= wiring.inputs:
        raise CommandError(key, f"the IO board has digital inputs io.DI1..io.DI{wiring.inputs}")
    if n == wiring.ignition_input:
        raise CommandError(key, "wired to the ignition in the simulator: set vehicle.ignition instead")
    return _zero_one(key, value)


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "vehicle.target_speed": _target_speed,
    "vehicle.ignition": _zero_one,
    "vehicle.brake": _brake,
    "vehicle.stop": _stop,
    "obd.dtc": _dtc,
}


def applied(commands: list[Command]) -> dict[str, Any]:
    """The answer's ``result``: each setting as the simulator took it (``obd.dtc`` clearing reads ``"clear"``)."""
    return {c.key: "clear" if c.key == "obd.dtc" and c.value is None else c.value for c in commands}
