"""The request/response envelope: decoding hostile bytes and shaping every answer (DESIGN #3, #4).

Pure functions; nothing here does I/O.
"""

from __future__ import annotations

import json
from typing import Any

MAX_TOKEN_BYTES = 256
MAX_DEPTH = 8

ERROR_CODES = ("auth_failed", "invalid_parameter", "not_found", "device_busy", "device_error", "data_invalid")


class RequestError(Exception):
    """A request that gets an error response: one of the six codes and a description naming the field."""

    def __init__(self, code: str, desc: str, token: str | None = None) -> None:
        assert code in ERROR_CODES, code
        super().__init__(f"{code}: {desc}")
        self.code = code
        self.desc = desc
        self.token = token


def invalid(desc: str) -> RequestError:
    return RequestError("invalid_parameter", desc)


def decode_request(data: bytes, max_bytes: int) -> tuple[str, dict[str, Any]]:
    """Raw payload -> (client_token, body without the token); raises :class:`RequestError`."""
    if len(data) > max_bytes:
        raise invalid(f"payload: {len(data)} bytes exceeds the limit of {max_bytes}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid(f"payload: not UTF-8 (byte {exc.start})") from None
    obj = _parse_json(text)
    if not isinstance(obj, dict):
        raise invalid(f"payload: must be a JSON object, got {json_kind(obj)}")
    body = dict(obj)
    token = token_of(body)
    body.pop("client_token", None)
    if token is None:
        raise invalid(_token_problem(obj.get("client_token", _MISSING)))
    if _depth(body) > MAX_DEPTH:
        raise RequestError("invalid_parameter", f"payload: nesting deeper than {MAX_DEPTH} levels", token)
    return token, body


_MISSING = object()


def token_of(obj: dict[str, Any]) -> str | None:
    """The client token when it is a string of at most 256 bytes (else None: the response omits it)."""
    token = obj.get("client_token")
    if isinstance(token, str) and len(token.encode("utf-8", "surrogatepass")) <= MAX_TOKEN_BYTES:
        return token
    return None


def _token_problem(token: Any) -> str:
    if token is _MISSING:
        return "client_token: required"
    if not isinstance(token, str):
        return f"client_token: must be a string, got {json_kind(token)}"
    return f"client_token: longer than {MAX_TOKEN_BYTES} bytes"


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise invalid(f"payload: nesting deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise invalid(f"payload: not valid JSON ({exc})") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth(value: Any) -> int:
    """Nesting depth of containers, iteratively (a hostile payload must not exhaust the stack)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, level + 1)
            stack.extend((child, level + 1) for child in children)
    return deepest


def json_kind(value: Any) -> str:
    """How a JSON value is named in error descriptions."""
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def success(token: str | None, result: Any) -> dict[str, Any]:
    """A success response: the token (when usable) and ``result``."""
    return {**({"client_token": token} if token is not None else {}), "result": result}


def failure(token: str | None, code: str, desc: str) -> dict[str, Any]:
    """An error response: the token (when usable), ``error`` and ``error_desc``."""
    assert code in ERROR_CODES, code
    return {**({"client_token": token} if token is not None else {}), "error": code, "error_desc": desc}
