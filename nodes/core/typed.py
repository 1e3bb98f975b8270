"""Node-RED "typed input" values (``str``, ``num``, ``bool``, ``json``, ``date``, ``msg``, ``flow``, ``global``, ``env``).

Shared by inject, change, switch and trigger so all read typed values the same way.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from flowengine.errors import NodeError
from flowengine.message import Msg, get_path
from flowengine.node import Node

STATIC_TYPES = frozenset({"str", "num", "bool", "json", "date", "env", "bin"})


def static_value(value: Any, vtype: str) -> Any:
    """Evaluate a typed value that needs no message or context."""
    if vtype in ("str", "", None):
        return "" if value is None else str(value)
    if vtype == "num":
        return _number(value)
    if vtype == "bool":
        return value is True or str(value).lower() == "true"
    if vtype == "json":
        try:
            return json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError as exc:
            raise NodeError(f"invalid JSON value {value!r}: {exc.msg}") from exc
    if vtype == "date":
        return int(time.time() * 1000)
    if vtype == "env":
        return os.environ.get(str(value), "")
    if vtype == "bin":
        return bytes(json.loads(value) if isinstance(value, str) else value)
    raise NodeError(f"unsupported value type {vtype!r}")


def typed_value(node: Node, value: Any, vtype: str, msg: Msg | None) -> Any:
    """Evaluate a typed value against a message and the node's contexts."""
    if vtype == "msg":
        return get_path(msg or {}, str(value))
    if vtype in ("flow", "global"):
        return node.context(vtype).get(str(value))
    return static_value(value, vtype)


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise NodeError(f"invalid number {value!r}")
    if isinstance(value, (int, float)):
        return value
    try:
        text = str(value).strip()
        return int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError as exc:
        raise NodeError(f"invalid number {value!r}") from exc
