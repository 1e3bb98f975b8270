"""Node-RED "typed input" values (``str``, ``num``, ``bool``, ``json``, ``date``, ``msg``, ``flow``, ``global``, ``env``).

Shared by inject, change, switch and trigger so all read typed values the same way.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

from flowengine.errors import NodeError
from flowengine.message import Msg, clone, get_path
from flowengine.node import Node

STATIC_TYPES = frozenset({"str", "num", "bool", "json", "date", "bin"})
#: Every value type the shared evaluator understands.
VALUE_TYPES = STATIC_TYPES | {"msg", "flow", "global", "env"}
#: Evaluated by the node itself (asynchronously, see nodes/core/jsonata.py), not by :func:`typed_value`.
JSONATA = "jsonata"
#: Node-RED store prefix of a context key: ``#:(file)::key``.
_STORE_PREFIX = re.compile(r"^#:\((\S+?)\)::")


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
        except RecursionError:
            raise NodeError("invalid JSON value: nested too deeply") from None
    if vtype == "date":
        return _date(value)
    if vtype == "bin":
        return _binary(value)
    raise NodeError(f"unsupported value type {vtype!r}")


def typed_value(node: Node, value: Any, vtype: str, msg: Msg | None) -> Any:
    """Evaluate a typed value against a message and the node's contexts."""
    if vtype == "msg":
        return get_path(msg or {}, str(value))
    if vtype in ("flow", "global"):
        return clone(node.context(vtype).get(context_key(value)))
    if vtype == "env":
        found = node.env_get(str(value))
        return "" if found is None else found
    return static_value(value, vtype)


def context_key(key: Any) -> str:
    """A context key without Node-RED's ``#:(store)::`` prefix (there is one store here)."""
    return _STORE_PREFIX.sub("", str(key))


def check_type(vtype: str | None, allowed: frozenset[str] | set[str], what: str = "value type") -> str | None:
    """Pydantic-validator helper: reject a type this engine cannot evaluate, naming the choices."""
    if vtype is None or vtype in allowed:
        return vtype
    raise ValueError(f"unsupported {what} {vtype!r}; expected one of {', '.join(sorted(allowed))}")


def check_static(value: Any, vtype: str | None) -> Any:
    """Pydantic-validator helper: a constant num, json or bin value that cannot parse is a config error."""
    if vtype in ("num", "json", "bin"):
        try:
            static_value(value, vtype)
        except NodeError as exc:
            raise ValueError(str(exc)) from None
    return value


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise NodeError(f"invalid number {value!r}")
    if isinstance(value, (int, float)):
        return value
    text = "" if value is None else str(value).strip()
    if not text:
        return 0  # Node-RED: Number("") is 0
    try:
        return int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError as exc:
        raise NodeError(f"invalid number {value!r}") from exc


def _date(fmt: Any) -> int | str:
    if not fmt:
        return int(time.time() * 1000)
    if fmt in ("iso", "object"):
        return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    raise NodeError(f"unsupported date format {fmt!r} (use '' for milliseconds or 'iso')")


def _binary(value: Any) -> bytes:
    try:
        data = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError as exc:
        raise NodeError(f"invalid buffer value {value!r}: {exc.msg}") from exc
    except RecursionError:
        raise NodeError("invalid buffer value: nested too deeply") from None
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, list):
        try:
            return bytes(data)
        except (TypeError, ValueError) as exc:
            raise NodeError(f"invalid buffer value {value!r}: {exc}") from exc
    raise NodeError(f"invalid buffer value {value!r}: not a string or array")
