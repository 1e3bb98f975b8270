"""Request topics and bodies of the FlexAPI calls, and the tokens and spacing they need (pure functions).

A call is ``(path, body)``: the path below the device's root (``gnss/refresh``)
and the body without its ``client_token``. The client sends it; these functions
only shape it, so both clients (sync and async) and the CLI build requests alike.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from flowengine.config import check_client_id
from flowengine.mqtt.topics import topic_problem
from nodes.flexapi.client.errors import BadRequest
from nodes.flexapi.envelope import MAX_TOKEN_BYTES
from nodes.flexapi.topics import retry_interval

Call = tuple[str, dict[str, Any]]
#: A request body as callers give it (None: empty).
Body = Mapping[str, Any] | None
USERDATA_PREFIX = "userdata."


def refresh(group: str) -> Call:
    return f"{group}/refresh", {}


def set_group(group: str, interval: int | None = None, interest: Mapping[str, str] | None = None) -> Call:
    body: dict[str, Any] = {}
    if interval is not None:
        body["interval"] = interval
    if interest is not None:
        body["interest"] = dict(interest)
    return f"{group}/set", body


def group_set(settings: Iterable[Mapping[str, Any]]) -> Call:
    return "group/set", {"settings": [dict(s) for s in settings]}


def group_get() -> Call:
    return "group/get", {}


def group_remove(names: Iterable[str]) -> Call:
    return group_set({"group_name": name, "interest": None} for name in names)


def userdata(operation: str, values: Mapping[str, Any] | Iterable[str]) -> Call:
    """``insert``/``update``/``delete``; keys may leave out ``userdata.``; delete also takes a list of keys."""
    items = values.items() if isinstance(values, Mapping) else ((key, "") for key in values)
    return "userdata/set", {operation: {userdata_key(key): value for key, value in items}}


def userdata_key(key: str) -> str:
    return key if key.startswith(USERDATA_PREFIX) else USERDATA_PREFIX + key


def userdata_interval(interval: int) -> Call:
    return "userdata/set", {"interval": interval}


def io_control(outputs: Mapping[str, int]) -> Call:
    """Digital outputs, ``{"io.DO1": 1}`` (``DO1`` works too)."""
    return "io/control", {io_key(key): value for key, value in outputs.items()}


def io_toggle(output: str, value: int, ms: int) -> Call:
    """Set ``output`` to ``value`` for ``ms`` milliseconds, then back."""
    key = io_key(output)
    return "io/toggle", {key: value, f"{key}_toggle_ms": ms}


def io_key(key: str) -> str:
    return key if key.startswith("io.") else f"io.{key}"


def app_control(values: Mapping[str, Any]) -> Call:
    return "app/control", dict(values)


def app_refresh() -> Call:
    return "app/refresh", {}


def new_token() -> str:
    """A fresh client token: 32 URL-safe characters, like the reference's examples."""
    return secrets.token_urlsafe(24)


def check_token(token: Any) -> str:
    """A usable client token (a string of at most 256 bytes), else :class:`BadRequest`.

    The device answers an unusable token without it, so the answer could not be matched.
    """
    if not isinstance(token, str) or len(token.encode("utf-8", "surrogatepass")) > MAX_TOKEN_BYTES:
        raise BadRequest(f"client_token: must be a string of at most {MAX_TOKEN_BYTES} bytes, got {token!r:.60}")
    return token


def check_path(path: str) -> str:
    """A request path below the root (``gnss/refresh``): no wildcards, no empty levels, not a response topic."""
    problem = topic_problem(path)
    if problem is None and (path.startswith("/") or path.endswith("/") or "//" in path):
        problem = "has an empty level"
    if problem is None and path.endswith("/resp"):
        problem = "is a response topic (name the request: gnss/refresh)"
    if problem:
        raise BadRequest(f"topic {path!r}: {problem}")
    return path


def spacing(path: str) -> float:
    """The device's minimum retry interval for a request path (1 s; ``io/control`` 5 s)."""
    group, _, op = path.partition("/")
    return retry_interval(group, op)


def check_device(client_id: str) -> str:
    """A device client id as FlexAPI allows it (1..128 bytes, no ``/ + #``), else :class:`BadRequest`."""
    try:
        check_client_id(client_id)
    except ValueError as exc:
        raise BadRequest(f"client id {client_id!r:.80}: {exc}") from None
    return client_id
