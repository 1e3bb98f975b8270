"""User data requests (``userdata/set``): insert, update, delete, or interval/interest (decision 8)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from nodes.flexapi.envelope import RequestError, invalid, json_kind
from nodes.flexapi.groups import MAX_ITEMS
from nodes.flexapi.params import is_userdata_key
from nodes.flexapi.settings import SETTINGS_FIELDS, parse_settings_change

OPERATIONS = ("insert", "update", "delete")
MAX_VALUE_BYTES = 1024
_DONE = {"insert": "inserted", "update": "updated", "delete": "deleted"}


def userdata_operation(body: Mapping[str, Any]) -> str:
    """Which single operation a body asks for: insert, update, delete or settings."""
    for field in body:
        if field not in (*OPERATIONS, *SETTINGS_FIELDS):
            raise invalid(f"{field}: unknown field (expected insert, update, delete, interval or interest)")
    ops = [f for f in body if f in OPERATIONS]
    if ops and len(body) > 1:
        others = ", ".join(f for f in body if f != ops[0])
        raise invalid(f"{ops[0]}: one operation per request (also got {others})")
    return ops[0] if ops else "settings"


def parse_settings(body: Mapping[str, Any]) -> dict[str, Any]:
    """The interval/interest change of a userdata settings request."""
    return parse_settings_change(body, is_userdata_key, "userdata")


def apply_operation(op: str, data: Any, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply insert/update/delete to ``values`` -> (new values, result); raises on the first problem."""
    if not isinstance(data, dict) or not data:
        raise invalid(f"{op}: must be a non-empty object of userdata.<name>: value, got {json_kind(data)}")
    new = dict(values)
    for key, value in data.items():
        _check_key(op, key, new)
        if op == "delete":
            del new[key]
        else:
            new[key] = _check_value(op, key, value)
    if len(new) > MAX_ITEMS:
        raise RequestError("over_data_num", f"{op}: would hold {len(new)} user data keys, the limit is {MAX_ITEMS}")
    return new, {_DONE[op]: dict(data)}


def _check_key(op: str, key: str, values: Mapping[str, Any]) -> None:
    if not is_userdata_key(key):
        raise invalid(f"{op}.{key}: keys are userdata.<name> (1-64 letters, digits, '_', '-', '.')")
    if op == "insert" and key in values:
        raise RequestError("find_same_key", f"{op}.{key}: already exists (use update)")
    if op != "insert" and key not in values:
        raise RequestError("not_found", f"{op}.{key}: no such user data key")


def _check_value(op: str, key: str, value: Any) -> Any:
    if not isinstance(value, (str, int, float)):
        raise invalid(f"{op}.{key}: value must be a string, number or boolean, got {json_kind(value)}")
    if isinstance(value, float) and not math.isfinite(value):  # cannot arrive as JSON; guards stored data
        raise invalid(f"{op}.{key}: value must be a finite number")
    if isinstance(value, str) and len(value.encode("utf-8", "surrogatepass")) > MAX_VALUE_BYTES:
        raise invalid(f"{op}.{key}: value longer than {MAX_VALUE_BYTES} bytes")
    return value


def parse_stored_values(data: Any) -> dict[str, Any]:
    """User data values from a state or config file; raises on any problem."""
    if not isinstance(data, dict):
        raise invalid(f"userdata.values: must be an object, got {json_kind(data)}")
    return apply_operation("insert", data, {})[0] if data else {}
