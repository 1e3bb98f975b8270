"""Control requests: ``io/control`` (digital outputs) and ``app/control`` (app parameters + hook keys)."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from nodes.flexapi.envelope import invalid, json_kind
from nodes.flexapi.params import canonical

OUTPUT_KEYS = tuple(f"io.DO{n}{s}" for n in range(1, 5) for s in ("", "_pullup"))
WIFI_KEYS = ("app.wifi_mode_2g", "app.wifi_mode_5g")
#: Longest string an app hook key accepts (as user data values).
MAX_HOOK_VALUE_BYTES = 1024


def _zero_one(key: str, value: Any) -> int:
    if isinstance(value, bool) or value not in (0, 1) or not isinstance(value, int):
        raise invalid(f"{key}: must be 0 or 1, got {value!r}" if _scalar(value) else f"{key}: must be 0 or 1")
    return int(value)


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def parse_io_control(body: Mapping[str, Any]) -> dict[str, int]:
    """``{io.DO1: 1, io.D02_pullup: 0, ...}`` -> canonical outputs to apply (decision 1)."""
    if not body:
        raise invalid("io.DO1..io.DO4: at least one output is required")
    outputs: dict[str, int] = {}
    spelled: dict[str, str] = {}
    for key, value in body.items():
        name = canonical(key)
        if name not in OUTPUT_KEYS:
            raise invalid(f"{key}: not a digital output (io.DO1..io.DO4 and io.DO<n>_pullup)")
        if name in outputs:
            raise invalid(f"{key}: the same output as {spelled[name]}")
        outputs[name] = _zero_one(key, value)
        spelled[name] = key
    return outputs


def parse_app_control(body: Mapping[str, Any], hook_keys: Collection[str]) -> dict[str, Any]:
    """``{app.wifi_mode_2g: 1, <hook key>: value}`` -> values to apply."""
    if not body:
        raise invalid("app: at least one app parameter is required")
    values: dict[str, Any] = {}
    for key, value in body.items():
        if key in WIFI_KEYS:
            values[key] = _zero_one(key, value)
        elif key in hook_keys:
            values[key] = _hook_value(key, value)
        else:
            raise invalid(f"{key}: not an app parameter (known: {', '.join(sorted({*WIFI_KEYS, *hook_keys}))})")
    return values


def _hook_value(key: str, value: Any) -> Any:
    """An app hook value: a string up to 1024 bytes or a finite number (0/1 included)."""
    if not isinstance(value, (str, int, float)):
        raise invalid(f"{key}: must be a string, number or 0/1, got {json_kind(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise invalid(f"{key}: must be a finite number")
    if isinstance(value, str) and len(value.encode("utf-8", "surrogatepass")) > MAX_HOOK_VALUE_BYTES:
        raise invalid(f"{key}: longer than {MAX_HOOK_VALUE_BYTES} bytes")
    return value
