"""Messages are plain dicts, as in Node-RED; these helpers keep fan-out safe."""

from __future__ import annotations

import contextlib
import copy
import itertools
import os
from typing import Any

Msg = dict[str, Any]

_ids = itertools.count(1)
_prefix = os.urandom(4).hex()
_ATOMS = (str, int, float, bool, type(None), bytes)
#: Parsed property paths kept (flows use a handful; the cache is cleared when full).
PATH_CACHE_SIZE = 1024
_paths: dict[str, tuple[str | int, ...]] = {}


def new_msg_id() -> str:
    """A process-unique message id (Node-RED's ``_msgid``)."""
    return f"{_prefix}{next(_ids):x}"


def make_msg(payload: Any = None, **fields: Any) -> Msg:
    """A fresh message with an id, a payload and any extra fields."""
    return {"_msgid": new_msg_id(), "payload": payload, **fields}


def clone(value: Any) -> Any:
    """Deep copy of a message; JSON-shaped data takes a fast path."""
    if isinstance(value, _ATOMS):
        return value
    if type(value) is dict:
        return {k: clone(v) for k, v in value.items()}
    if type(value) is list:
        return [clone(v) for v in value]
    return copy.deepcopy(value)


def get_path(obj: Any, path: str) -> Any:
    """Read ``a.b[0].c`` style property paths; missing parts give None."""
    for part in _parts(path):
        try:
            obj = obj[part]
        except (KeyError, IndexError, TypeError):
            return None
    return obj


def set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    """Write a property path, creating intermediate dicts as Node-RED does."""
    parts = _parts(path)
    node: Any = obj
    for i, part in enumerate(parts[:-1]):
        nxt = node[part] if _has(node, part) else None
        if not isinstance(nxt, (dict, list)):
            nxt = [] if isinstance(parts[i + 1], int) else {}
            node[part] = nxt
        node = nxt
    _assign(node, parts[-1], value)


def delete_path(obj: dict[str, Any], path: str) -> None:
    """Remove a property path if present."""
    parts = _parts(path)
    parent: Any = get_path(obj, _join(parts[:-1])) if len(parts) > 1 else obj
    with contextlib.suppress(KeyError, IndexError, TypeError):
        del parent[parts[-1]]


def has_path(obj: Any, path: str) -> bool:
    """True when every part of the path exists."""
    for part in _parts(path):
        if not _has(obj, part):
            return False
        obj = obj[part]
    return True


def split_path(path: str) -> list[str | int]:
    """``a.b[0]["c.d"]`` -> ['a', 'b', 0, 'c.d']."""
    parts: list[str | int] = []
    token = ""
    i = 0
    while i < len(path):
        ch = path[i]
        if ch == ".":
            if token:
                parts.append(token)
            token = ""
        elif ch == "[":
            if token:
                parts.append(token)
            token = ""
            end = path.index("]", i)
            inner = path[i + 1 : end].strip()
            parts.append(inner[1:-1] if inner[:1] in "'\"" else int(inner))
            i = end
        else:
            token += ch
        i += 1
    if token:
        parts.append(token)
    if not parts:
        raise ValueError(f"empty property path {path!r}")
    return parts


def _parts(path: str) -> tuple[str | int, ...]:
    """``split_path`` once per distinct path: rules apply the same few paths to every message."""
    parts = _paths.get(path)
    if parts is None:
        parts = tuple(split_path(path))
        if len(_paths) >= PATH_CACHE_SIZE:
            _paths.clear()
        _paths[path] = parts
    return parts


def _has(obj: Any, part: str | int) -> bool:
    if isinstance(obj, dict):
        return part in obj
    if isinstance(obj, list) and isinstance(part, int):
        return -len(obj) <= part < len(obj)
    return False


def _assign(obj: Any, part: str | int, value: Any) -> None:
    if isinstance(obj, list) and isinstance(part, int):
        obj.extend([None] * (part + 1 - len(obj)))
    obj[part] = value


def _join(parts: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f"[{p!r}]" for p in parts)
