"""Values between the runtime and a JavaScript worker: JSON, with bytes as ``{"\\u0000b": base64}``.

Messages cross a process boundary as JSON text, so what reaches a function body is what
JSON can carry plus Buffers (Python ``bytes``), and what leaves it is what
``JSON.stringify`` makes of it: ``undefined`` properties vanish, ``NaN`` and ``Infinity``
become ``null``, a ``Date`` becomes its ISO text, as it does when Node-RED serialises a
message. The marker key starts with a NUL character, which no real property name does.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import orjson

#: The key of a Buffer on the wire (``"\u0000b"`` in the JSON text).
BYTES_KEY = "\x00b"
_MARKED = b"\\u0000b"
_OPTIONS = orjson.OPT_NON_STR_KEYS


def encode(value: Any) -> bytes:
    """``value`` as one line of JSON (no newline in it), bytes marked."""
    try:
        return orjson.dumps(value, default=_mark, option=_OPTIONS)
    except orjson.JSONEncodeError:  # integers beyond 64 bits: json takes them
        return json.dumps(_finite(value), default=_mark, separators=(",", ":")).encode()


def decode(data: bytes | str) -> Any:
    """A JSON text from the worker, marked bytes restored."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:  # lone surrogates, numbers orjson does not take
        value = json.loads(data)
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    return _revive(value) if _MARKED in raw else value


def _mark(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {BYTES_KEY: base64.b64encode(value).decode("ascii")}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"a {type(value).__name__} cannot be passed to JavaScript (not JSON-compatible)")


def _finite(value: Any) -> Any:
    """NaN and infinities as null, as ``JSON.stringify`` (and orjson) write them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _revive(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get(BYTES_KEY), str):
            return base64.b64decode(value[BYTES_KEY])
        return {k: _revive(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_revive(v) for v in value]
    return value
