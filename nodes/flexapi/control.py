"""Control requests: ``io/control`` (digital outputs), ``io/toggle`` (pulses) and ``app/control``."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from typing import Any

from nodes.flexapi.envelope import invalid, json_kind
from nodes.flexapi.params import canonical

DO_KEYS = tuple(f"io.DO{n}" for n in range(1, 5))
OUTPUT_KEYS = tuple(f"io.DO{n}{s}" for n in range(1, 5) for s in ("", "_pullup"))
#: Pull-ups of the digital inputs, driven by ``io/control`` from 1.0.9 on.
INPUT_PULLUP_KEYS = tuple(f"io.DI{n}_pullup" for n in range(1, 7))
WIFI_KEYS = ("app.wifi_mode_2g", "app.wifi_mode_5g")
#: Longest string an app hook key accepts (as user data values).
MAX_HOOK_VALUE_BYTES = 1024
#: ``io/toggle``: ``io.DO<n>_toggle_ms`` lies in (10, 60000] milliseconds.
TOGGLE_SUFFIX = "_toggle_ms"
MIN_TOGGLE_MS = 10
MAX_TOGGLE_MS = 60_000
#: Checks an app hook declares for a key: each returns why a value is not allowed, or None.
ValueCheck = Callable[[Any], str | None]


def _zero_one(key: str, value: Any) -> int:
    if isinstance(value, bool) or value not in (0, 1) or not isinstance(value, int):
        raise invalid(f"{key}: must be 0 or 1, got {value!r}" if _scalar(value) else f"{key}: must be 0 or 1")
    return int(value)


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def parse_io_control(body: Mapping[str, Any], keys: Collection[str] = OUTPUT_KEYS) -> dict[str, int]:
    """``{io.DO1: 1, io.D02_pullup: 0, ...}`` -> canonical outputs to apply (decision 1).

    ``keys`` are what the revision lets ``io/control`` drive (1.0.9 adds ``io.DI<n>_pullup``).
    """
    if not body:
        raise invalid("io.DO1..io.DO4: at least one output is required")
    outputs: dict[str, int] = {}
    spelled: dict[str, str] = {}
    for key, value in body.items():
        name = canonical(key)
        if name not in keys:
            raise invalid(f"{key}: not a digital output ({_controllable(keys)})")
        if name in outputs:
            raise invalid(f"{key}: the same output as {spelled[name]}")
        outputs[name] = _zero_one(key, value)
        spelled[name] = key
    return outputs


def _controllable(keys: Collection[str]) -> str:
    inputs = " and io.DI<n>_pullup" if any(k in keys for k in INPUT_PULLUP_KEYS) else ""
    return f"io.DO1..io.DO4 and io.DO<n>_pullup{inputs}"


def parse_io_toggle(body: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """``{io.DO1: 1, io.DO1_toggle_ms: 500}`` -> ``{"io.DO1": (1, 500)}``: set 1 now, 0 after 500 ms.

    Every output given needs its ``_toggle_ms`` and the other way round.
    """
    if not body:
        raise invalid(f"io.DO1..io.DO4: at least one output with its io.DO<n>{TOGGLE_SUFFIX} is required")
    levels: dict[str, int] = {}
    delays: dict[str, int] = {}
    spelled: dict[tuple[str, bool], str] = {}
    for key, value in body.items():
        is_delay = key.endswith(TOGGLE_SUFFIX)
        name = canonical(key.removesuffix(TOGGLE_SUFFIX) if is_delay else key)
        if name not in DO_KEYS:
            raise invalid(f"{key}: not a digital output to toggle (io.DO1..io.DO4 with io.DO<n>{TOGGLE_SUFFIX})")
        if (name, is_delay) in spelled:
            raise invalid(f"{key}: the same output as {spelled[(name, is_delay)]}")
        spelled[(name, is_delay)] = key
        if is_delay:
            delays[name] = _toggle_ms(key, value)
        else:
            levels[name] = _zero_one(key, value)
    for name in sorted(levels.keys() ^ delays.keys()):
        given, missing = (name, name + TOGGLE_SUFFIX) if name in levels else (name + TOGGLE_SUFFIX, name)
        raise invalid(f"{missing}: required with {given}")
    return {name: (levels[name], delays[name]) for name in levels}


def _toggle_ms(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_TOGGLE_MS < value <= MAX_TOGGLE_MS:
        shown = f", got {value!r}" if _scalar(value) else ""
        raise invalid(f"{key}: must be an integer number of milliseconds, {MIN_TOGGLE_MS + 1}..{MAX_TOGGLE_MS}{shown}")
    return value


def parse_app_control(
    body: Mapping[str, Any], hook_keys: Collection[str], allowed: Mapping[str, list[ValueCheck]] | None = None
) -> dict[str, Any]:
    """``{app.wifi_mode_2g: 1, <hook key>: value}`` -> values to apply.

    ``allowed`` holds the checks app hooks declare for their keys (enum or range).
    """
    if not body:
        raise invalid("app: at least one app parameter is required")
    values: dict[str, Any] = {}
    for key, value in body.items():
        if key in WIFI_KEYS:
            values[key] = _zero_one(key, value)
        elif key in hook_keys:
            values[key] = _hook_value(key, value)
            for check in (allowed or {}).get(key, ()):
                problem = check(value)
                if problem:
                    raise invalid(f"{key}: {problem}")
        else:
            raise invalid(f"{key}: not an app parameter (known: {', '.join(sorted({*WIFI_KEYS, *hook_keys}))})")
    return values


def hook_value(key: str, value: Any) -> Any:
    """An app hook value as a flow reports it: a string up to 1024 bytes or a finite number."""
    return _hook_value(key, value)


def _hook_value(key: str, value: Any) -> Any:
    """An app hook value: a string up to 1024 bytes or a finite number (0/1 included)."""
    if not isinstance(value, (str, int, float)):
        raise invalid(f"{key}: must be a string, number or 0/1, got {json_kind(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise invalid(f"{key}: must be a finite number")
    if isinstance(value, str) and len(value.encode("utf-8", "surrogatepass")) > MAX_HOOK_VALUE_BYTES:
        raise invalid(f"{key}: longer than {MAX_HOOK_VALUE_BYTES} bytes")
    return value
