"""``flexapi request``: decode the envelope, apply the retry limit, route by topic.

Outputs: 0 group settings and refresh (reserved groups, user data, custom
groups), 1 custom group admin (group/set, group/get), 2 io/control, 3 app
refresh and control, 4 error responses (to ``flexapi out``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flowengine.message import Msg
from flowengine.node import NodeConfig
from nodes.flexapi.envelope import RequestError, decode_request, failure
from nodes.flexapi.handler import FlexApiNode, response_msg, routes_of
from nodes.flexapi.ratelimit import limiter_of
from nodes.flexapi.topics import parse_request_topic, retry_interval

ERRORS_PORT = 4
#: Requests that may wait for this node; beyond, new ones are answered device_busy at once.
REQUEST_QUEUE_LIMIT = 1000
_PORTS = {("group", "set"): 1, ("group", "get"): 1, ("io", "control"): 2, ("app", "control"): 3, ("app", "refresh"): 3}


def port_for(group: str, op: str) -> int:
    return _PORTS.get((group, op), 0)


def raw_bytes(payload: Any) -> bytes:
    """Request bytes from an ``mqtt in``-style msg (bytes, text, or an already parsed object)."""
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return json.dumps(payload).encode()


class RequestNode(FlexApiNode):
    """Every request gets exactly one response; this node answers the ones that go no further.

    Overflow policy: at most 1000 requests wait here. One that arrives when the
    queue is full is answered `device_busy` at once (counted in `overflowed`,
    logged at the first and every 1000th) instead of displacing an older
    request, so a flood never costs a request its answer. A retained request
    (delivered on subscribe) is answered `invalid_parameter`, never replayed.
    """

    Config = NodeConfig
    outputs = 5
    inbox_limit = REQUEST_QUEUE_LIMIT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.overflowed = 0

    def receive(self, msg: Msg) -> None:
        if self.pending < self.inbox_limit or self.closed:
            super().receive(msg)
            return
        self.overflowed += 1
        if self.overflowed == 1 or self.overflowed % 1000 == 0:
            self.log.warning(
                "request queue full (%d): %d request(s) answered device_busy", self.inbox_limit, self.overflowed
            )
        self._answer(msg, lambda request: self._busy(msg, request))

    def on_input(self, msg: Msg) -> None:  # type: ignore[override]
        self._answer(msg, lambda request: self._admit(msg, request))

    def _answer(self, msg: Msg, admit: Callable[[dict[str, Any]], None]) -> None:
        topic = str(msg.get("topic", ""))
        parsed = parse_request_topic(self.root, topic)
        if parsed is None:
            self.log.warning("ignored a message on %r: not a FlexAPI request topic", topic[:200])
            return
        group, op = parsed
        request = {"topic": topic, "group": group, "op": op, "token": None}
        try:
            admit(request)
        except RequestError as exc:
            answer = {**msg, "flexapi": {**request, "token": exc.token}}
            self.send(response_msg(answer, failure(exc.token, exc.code, exc.desc)), ERRORS_PORT)

    def _busy(self, msg: Msg, request: dict[str, Any]) -> None:
        token: str | None
        try:
            token, _ = decode_request(raw_bytes(msg.get("payload")), self.device.flexapi.request_max_bytes)
        except RequestError as exc:
            token = exc.token
        raise RequestError("device_busy", f"{request['group']}/{request['op']}: too many requests waiting", token)

    def _admit(self, msg: Msg, request: dict[str, Any]) -> None:
        group, op = request["group"], request["op"]
        token, body = decode_request(raw_bytes(msg.get("payload")), self.device.flexapi.request_max_bytes)
        request["token"] = token
        if msg.get("retain"):  # delivered from the broker's store on (re)subscribe: stale, maybe replayed
            raise RequestError("invalid_parameter", "retain: a retained request is not executed", token)
        if (group, op) not in routes_of(self.runtime.services):
            raise RequestError("not_found", self._not_found(group, op), token)
        ticket = limiter_of(self.runtime.services).admit(request["topic"], retry_interval(group, op))
        if ticket is None:
            wait = retry_interval(group, op)
            raise RequestError("device_busy", f"{group}/{op}: retry after the minimum interval of {wait:g} s", token)
        request["ticket"] = ticket
        self.send({**msg, "payload": body, "flexapi": request}, port_for(group, op))

    def _not_found(self, group: str, op: str) -> str:
        if any(g == group for g, _ in routes_of(self.runtime.services)):
            return f"{group}/{op}: the {group} group has no {op} request"
        return f"group: {group!r} does not exist"
