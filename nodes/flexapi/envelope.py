"""The request/response envelope: decoding hostile bytes and shaping every answer (decisions 3, 4).

Pure functions; nothing here does I/O. A request is refused as a whole when any
part of it is doubtful: not UTF-8, not JSON, NaN/Infinity, a number no 64-bit
integer or finite double can hold, a key given twice, a lone surrogate, nesting
deeper than :data:`MAX_DEPTH`. Problems found while parsing are collected, not
raised, so the response still carries a usable ``client_token``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

MAX_TOKEN_BYTES = 256
MAX_DEPTH = 8
#: Integers must fit a signed 64-bit integer (platforms decode them as int64 or double).
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
#: Longest ``error_desc``: field names and values echoed in descriptions are cut here.
MAX_DESC_CHARS = 512

#: The six error codes of 1.0.8 (2.1.2).
ERROR_CODES = ("auth_failed", "invalid_parameter", "not_found", "device_busy", "device_error", "data_invalid")
#: Conditions 1.0.9 gives codes of their own, each with the 1.0.8 code it is answered with there.
PRECISE_CONDITIONS = {
    "invalid_token": "invalid_parameter",
    "data_empty": "data_invalid",
    "over_group_num": "invalid_parameter",
    "over_data_num": "invalid_parameter",
    "find_same_key": "invalid_parameter",
    "interval_invalid": "invalid_parameter",
    "not_support": "not_found",
}
#: Every condition a request can end in: the 1.0.8 codes and the precise ones of 1.0.9.
CONDITIONS = (*ERROR_CODES, *PRECISE_CONDITIONS)


def legacy_code(condition: str) -> str:
    """The 1.0.8 code of a condition (the six codes are their own)."""
    return PRECISE_CONDITIONS.get(condition, condition)


class RequestError(Exception):
    """A request that gets an error response: the precise condition and a description naming the field.

    ``condition`` is named once, where the problem is found (``find_same_key``,
    ``interval_invalid``, ...); ``code`` is its 1.0.8 code. The API revision the
    device speaks decides which of the two goes on the wire (``flexapi request``).
    """

    def __init__(self, condition: str, desc: str, token: str | None = None) -> None:
        assert condition in CONDITIONS, condition
        super().__init__(f"{condition}: {desc}")
        self.condition = condition
        self.code = legacy_code(condition)
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
    checks = _Checks()
    obj = checks.parse(text)
    if not isinstance(obj, dict):
        raise invalid(f"payload: must be a JSON object, got {json_kind(obj)}")
    body = dict(obj)
    token = None if id(obj) in checks.token_twice else token_of(body)
    body.pop("client_token", None)
    if token is None:
        raise RequestError(
            "invalid_token", _token_problem(obj.get("client_token", _MISSING), id(obj) in checks.token_twice)
        )
    problem = checks.problem or _tree_problem(body)
    if problem:
        raise RequestError("invalid_parameter", problem, token)
    return token, body


_MISSING = object()


def token_of(obj: dict[str, Any]) -> str | None:
    """The client token when it is a valid string of at most 256 bytes (else None: the response omits it)."""
    token = obj.get("client_token")
    if not isinstance(token, str):
        return None
    try:
        size = len(token.encode("utf-8"))
    except UnicodeEncodeError:
        return None
    return token if size <= MAX_TOKEN_BYTES else None


def _token_problem(token: Any, twice: bool) -> str:
    if twice:
        return "client_token: given more than once"
    if token is _MISSING:
        return "client_token: required"
    if not isinstance(token, str):
        return f"client_token: must be a string, got {json_kind(token)}"
    if not _valid_unicode(token):
        return "client_token: not valid Unicode (lone surrogate)"
    return f"client_token: longer than {MAX_TOKEN_BYTES} bytes"


class _Checks:
    """One parse: notes the first doubtful number, constant or duplicate key instead of raising."""

    def __init__(self) -> None:
        self.problem: str | None = None
        self.token_twice: set[int] = set()

    def note(self, problem: str) -> None:
        if self.problem is None:
            self.problem = problem

    def parse(self, text: str) -> Any:
        try:
            return json.loads(
                text,
                parse_constant=self._constant,
                parse_int=self._int,
                parse_float=self._float,
                object_pairs_hook=self._object,
            )
        except RecursionError:
            raise invalid(f"payload: nesting deeper than {MAX_DEPTH} levels") from None
        except ValueError as exc:
            raise invalid(f"payload: not valid JSON ({exc})") from None

    def _constant(self, name: str) -> None:
        self.note(f"payload: not valid JSON ({name} is not a JSON value)")

    def _int(self, text: str) -> int:
        value = int(text) if len(text) <= 20 else None  # no int64 has more characters
        if value is None or not INT_MIN <= value <= INT_MAX:
            self.note(f"payload: integer {_cut(text)} is out of range (64-bit)")
            return 0
        return value

    def _float(self, text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            self.note(f"payload: number {_cut(text)} is out of range (double)")
            return 0.0
        return value

    def _object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            twice = _first_repeated(k for k, _ in pairs)
            self.note(f"payload: key {_cut(twice)!r} appears more than once")
            if twice == "client_token":
                self.token_twice.add(id(obj))
        return obj


def _first_repeated(keys: Iterable[str]) -> str:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            return key
        seen.add(key)
    return ""


def _cut(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else f"{text[:limit]}..."


def _tree_problem(value: Any) -> str | None:
    """Nesting too deep or a string that is not valid Unicode, found iteratively (no recursion)."""
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            if not _valid_unicode(item):
                return "payload: a string is not valid Unicode (lone surrogate)"
            continue
        children = list(item.items()) if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if level + 1 > MAX_DEPTH:
            return f"payload: nesting deeper than {MAX_DEPTH} levels"
        for child in children:
            if isinstance(child, tuple):  # (key, value) of an object
                stack.append((child[0], level))
                child = child[1]
            stack.append((child, level + 1))
    return None


def _valid_unicode(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
    """An error response: the token (when usable), ``error`` and ``error_desc`` (cut to a sane length).

    ``code`` may be a precise condition; ``flexapi request`` turns it into the code of
    the device's API revision on the way out.
    """
    assert code in CONDITIONS, code
    if len(desc) > MAX_DESC_CHARS:
        desc = desc[: MAX_DESC_CHARS - 3] + "..."
    return {**({"client_token": token} if token is not None else {}), "error": code, "error_desc": desc}
