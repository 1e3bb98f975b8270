"""How requests and responses travel between the agent's nodes.

``flexapi request`` hands a handler ``{topic, payload: <body>, flexapi: {...}}``;
the handler answers with a message of the same ``flexapi`` data plus
``response: true`` on its first output, wired back to ``flexapi request``, which
settles the retry limit and passes the answer on to ``flexapi out``. Anything
else a handler receives is a value update from ``flexapi values``.
"""

from __future__ import annotations

from typing import Any

from flowengine.message import Msg, make_msg
from nodes.flexapi.topics import response_topic

KEY = "flexapi"


def request_of(msg: Msg) -> dict[str, Any] | None:
    """The routing data of a request message, or None for any other message."""
    info = msg.get(KEY)
    return info if isinstance(info, dict) and not info.get("response") else None


def is_response(msg: Msg) -> bool:
    info = msg.get(KEY)
    return isinstance(info, dict) and bool(info.get("response"))


def response_msg(request: dict[str, Any], body: dict[str, Any]) -> Msg:
    """The answer to ``request`` on its ``/resp`` topic, carrying its routing data back."""
    info = {**request, "response": True, "ok": "result" in body}
    return make_msg(body, topic=response_topic(str(request["topic"])), **{KEY: info})


def values_of(msg: Msg) -> dict[str, Any] | None:
    """The ``{key: value}`` payload of a value update, None when the message is not one."""
    payload = msg.get("payload")
    return payload if isinstance(payload, dict) and KEY not in msg else None
