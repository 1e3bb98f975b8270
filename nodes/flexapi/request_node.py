"""``flexapi request``: decode the envelope, apply the retry limit, route each request to its one handler.

Outputs: one per entry of ``routes`` (each wired to the handler of those topics),
then the last: the answers, to ``flexapi out``. Handlers wire their answers back
into this node, which settles the retry limit and passes each answer on; it
answers itself what goes no further (malformed, busy, no route) and what a
handler leaves unanswered for ``answer_timeout`` seconds. Every request gets
exactly one answer, with the error code of the device's API revision (handlers
name precise conditions; 1.0.8 answers them with its six codes). Request topics
a user ``mqtt in`` took on the device link and the agent does not serve are
left to that flow (:mod:`nodes.flexapi.handover`).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator

from flowengine.clock import Timer
from flowengine.errors import Problem
from flowengine.graph import Graph
from flowengine.logthrottle import LogThrottle
from flowengine.message import Msg
from flowengine.node import NodeConfig
from nodes.flexapi import handover
from nodes.flexapi.device_settings import flexapi_settings
from nodes.flexapi.envelope import RequestError, decode_request, failure
from nodes.flexapi.handler import FlexApiNode
from nodes.flexapi.messages import KEY, is_response, response_msg
from nodes.flexapi.ratelimit import RetryLimiter
from nodes.flexapi.routes import Pattern, parse_route, route_for
from nodes.flexapi.topics import parse_request_topic, retry_interval, retry_key, topic_root

#: Requests that may wait for this node; beyond, new ones are answered device_busy at once.
REQUEST_QUEUE_LIMIT = 1000
#: One DEBUG line per request and per answer (topic, token, size, latency): ``flowengine run --trace``.
trace = logging.getLogger("flowengine.trace")


def raw_bytes(payload: Any) -> bytes:
    """Request bytes from an ``mqtt in``-style msg (bytes, text, or an already parsed object)."""
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return json.dumps(payload).encode()


class RequestConfig(NodeConfig):
    routes: list[str] = Field(
        min_length=1,
        description="one entry per output: the request topics it takes, space-separated patterns "
        "`group`, `group/op` or `+` (any), first match wins; the last output carries the answers",
    )
    answer_timeout: float = Field(
        default=30.0, gt=0, le=600, description="seconds a handler has to answer before device_error is sent for it"
    )

    @field_validator("routes")
    @classmethod
    def _patterns(cls, routes: list[str]) -> list[str]:
        for route in routes:
            parse_route(route)
        return routes


@dataclass
class _Waiting:
    ticket: int
    timer: Timer
    since: float
    request: dict[str, Any]


class RequestNode(FlexApiNode[RequestConfig]):
    """Every request gets exactly one response; this node answers the ones that go no further.

    Overflow policy: at most 1000 requests wait here. One that arrives when the
    queue is full is answered `device_busy` at once (counted in `overflowed`,
    logged at the first and every 1000th) instead of displacing an older
    request, so a flood never costs a request its answer. A retained request
    (delivered on subscribe) is answered `invalid_parameter`, never replayed.
    """

    Config = RequestConfig
    inbox_limit = REQUEST_QUEUE_LIMIT

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.table: list[list[Pattern]] = [parse_route(r) for r in self.config.routes]
        self.limiter = RetryLimiter(self.clock.now)
        self.overflowed = 0
        self._ids = itertools.count(1)
        self._waiting: dict[int, _Waiting] = {}
        self._log = LogThrottle(self.log)
        self._taken: list[str] = []
        self._served: set[tuple[str, str]] = set()

    @classmethod
    def output_count(cls, config: NodeConfig) -> int:
        assert isinstance(config, RequestConfig)
        return len(config.routes) + 1

    @classmethod
    def check_graph(cls, graph: Graph, node_id: str, device: Any) -> list[Problem]:
        """User ``mqtt in`` nodes on the device link that take request topics: served ones are errors."""
        config = graph.configs[node_id]
        if device is None or not isinstance(config, RequestConfig):
            return []
        root = topic_root(device.mqtt.client_id, device.mqtt.topic_prefix)
        return handover.check(graph, root, [parse_route(r) for r in config.routes], node_id)

    def on_deployed(self, started: set[str]) -> None:
        """Learn which request topics user flows took (the graph may have changed)."""
        graph = self.runtime.graph
        taken = [t.topic_filter for t in handover.taken_filters(graph)]
        self._served = handover.routed(handover.served_requests(handover.custom_group_names(graph)), self.table)
        if taken != self._taken and taken:
            self.log.info("request topics %s are left to the user flows that subscribe them", ", ".join(taken))
        self._taken = taken

    @property
    def answers_port(self) -> int:
        return len(self.table)

    # -- arrivals ---------------------------------------------------------------------

    def receive(self, msg: Msg) -> None:
        if is_response(msg):  # answers never wait behind requests
            self._settle(msg)
        elif self.pending < self.inbox_limit or self.closed:
            super().receive(msg)
        else:
            self._overflow(msg)

    def on_input(self, msg: Msg) -> None:
        self._answer_errors(msg, lambda request: self._admit(msg, request))

    def _overflow(self, msg: Msg) -> None:
        self.overflowed += 1
        if self.overflowed == 1 or self.overflowed % 1000 == 0:
            self.log.warning(
                "request queue full (%d): %d request(s) answered device_busy", self.inbox_limit, self.overflowed
            )
        self._answer_errors(msg, lambda request: self._busy(msg, request))

    def _answer_errors(self, msg: Msg, admit: Callable[[dict[str, Any]], None]) -> None:
        topic = str(msg.get("topic", ""))
        parsed = parse_request_topic(self.root, topic)
        if parsed is None:
            self._log.warning("topic", "ignored a message on %r: not a FlexAPI request topic", topic[:200])
            return
        group, op = parsed
        if self._taken and handover.left_to_user(topic, parsed, self._taken, self._served):
            trace.debug("request %s left to the user flow that subscribes it", topic)
            return
        request: dict[str, Any] = {"topic": topic, "group": group, "op": op, "token": None}
        try:
            admit(request)
        except RequestError as exc:
            request["token"] = exc.token
            self._send_answer(response_msg(request, failure(exc.token, exc.condition, exc.desc)))

    def _busy(self, msg: Msg, request: dict[str, Any]) -> None:
        token: str | None
        try:
            token, _ = decode_request(raw_bytes(msg.get("payload")), self._max_bytes())
        except RequestError as exc:
            token = exc.token
        raise RequestError("device_busy", f"{request['group']}/{request['op']}: too many requests waiting", token)

    def _admit(self, msg: Msg, request: dict[str, Any]) -> None:
        group, op = request["group"], request["op"]
        data = raw_bytes(msg.get("payload"))
        token, body = decode_request(data, self._max_bytes())
        request["token"] = token
        trace.debug("request %s token=%r %d bytes", request["topic"], token, len(data))
        if msg.get("retain"):  # delivered from the broker's store on (re)subscribe: stale, maybe replayed
            raise RequestError("invalid_parameter", "retain: a retained request is not executed", token)
        port = route_for(self.table, group, op)
        if port is None:
            raise RequestError("not_found", f"group: {group!r} has no {op} request", token)
        ticket = self.limiter.admit(retry_key(request["topic"], group, op), retry_interval(group, op))
        if ticket is None:
            wait = retry_interval(group, op)
            raise RequestError("device_busy", f"{group}/{op}: retry after the minimum interval of {wait:g} s", token)
        request["id"] = request_id = next(self._ids)
        timer = self.clock.call_later(self.config.answer_timeout, lambda: self._timed_out(request_id))
        self._waiting[request_id] = _Waiting(ticket, timer, self.clock.now(), request)
        self.send({**msg, "payload": body, KEY: request}, port)

    def _max_bytes(self) -> int:
        return flexapi_settings(self.runtime.services.device).request_max_bytes

    # -- answers ----------------------------------------------------------------------

    def _settle(self, answer: Msg) -> None:
        """A handler answered: the retry interval counts only accepted requests."""
        waiting = self._waiting.pop(answer[KEY].get("id", -1), None)
        if waiting is None:
            self._log.warning("late", "dropped an answer on %s: its request was already answered", answer.get("topic"))
            return
        waiting.timer.cancel()
        self.limiter.settle(waiting.ticket, bool(answer[KEY].get("ok")))
        self._send_answer(answer, self.clock.now() - waiting.since)

    def _timed_out(self, request_id: int) -> None:
        waiting = self._waiting.pop(request_id, None)
        if waiting is None:
            return
        self.limiter.settle(waiting.ticket, False)
        request = waiting.request
        where = f"{request['group']}/{request['op']}"
        self._log.error("timeout", "%s: no answer from its handler within %gs", where, self.config.answer_timeout)
        desc = f"{where}: no answer within {self.config.answer_timeout:g} s"
        self._send_answer(response_msg(request, failure(request.get("token"), "device_error", desc)))

    def _send_answer(self, answer: Msg, latency: float | None = None) -> None:
        answer = self._in_revision(answer)
        if trace.isEnabledFor(logging.DEBUG):
            body = answer.get("payload") or {}
            outcome = "result" if "result" in body else body.get("error")
            took = f" in {latency * 1000:.1f} ms" if latency is not None else ""
            trace.debug("answer %s token=%r %s%s", answer.get("topic"), body.get("client_token"), outcome, took)
        self.send(answer, self.answers_port)

    def _in_revision(self, answer: Msg) -> Msg:
        """The answer with the error code of the device's revision (handlers name the precise condition)."""
        body = answer.get("payload")
        if isinstance(body, dict) and "error" in body:
            code = self.revision.wire_code(str(body["error"]))
            if code != body["error"]:
                return {**answer, "payload": {**body, "error": code}}
        return answer

    async def on_close(self) -> None:
        for waiting in self._waiting.values():
            waiting.timer.cancel()
        self._waiting.clear()
