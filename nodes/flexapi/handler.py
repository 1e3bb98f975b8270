"""Base of the FlexAPI request handler nodes: routes, responses, durable state, device settings.

A handler claims the (group, op) pairs it answers in the ``flexapi.routes``
service; ``flexapi request`` answers ``not_found`` for pairs nobody claims and
routes the rest by wire. Claims are made when the node is built, before any
node starts, so no early request is misjudged.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from flowengine.config import DeviceConfig
from flowengine.errors import StateError
from flowengine.message import Msg, make_msg
from flowengine.node import Node
from nodes.flexapi import statefiles
from nodes.flexapi.envelope import RequestError, failure, success
from nodes.flexapi.ratelimit import limiter_of
from nodes.flexapi.topics import info_topic, response_topic, topic_root
from nodes.flexapi.values import LatestValues, latest_values

ROUTES = "flexapi.routes"


def routes_of(services: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(group, op) -> id of the node that answers it."""
    return services.setdefault(ROUTES, {})  # type: ignore[no-any-return]


def device_config(services: dict[str, Any]) -> DeviceConfig:
    """The running device's settings, or defaults (unit tests)."""
    device = services.get("device")
    if device is None:
        device = services["device"] = DeviceConfig()
    return device  # type: ignore[no-any-return]


def response_msg(request: Msg, body: dict[str, Any]) -> Msg:
    """The response to ``request`` on its ``/resp`` topic; carries the request's routing data."""
    info = dict(request.get("flexapi") or {})
    info["ok"] = "result" in body
    return make_msg(body, topic=response_topic(info["topic"]), flexapi=info)


class FlexApiNode(Node):
    """A node that answers FlexAPI requests and may publish group infos (one output: to ``flexapi out``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._claims: set[tuple[str, str]] = set()

    # -- routes -----------------------------------------------------------------------

    def claim(self, group: str, op: str) -> None:
        routes_of(self.runtime.services)[(group, op)] = self.id
        self._claims.add((group, op))

    def release(self, group: str, op: str) -> None:
        routes = routes_of(self.runtime.services)
        if routes.get((group, op)) == self.id:
            del routes[(group, op)]
        self._claims.discard((group, op))

    def handles(self, group: str, op: str) -> bool:
        return routes_of(self.runtime.services).get((group, op)) == self.id

    async def on_close(self) -> None:
        for group, op in list(self._claims):
            self.release(group, op)

    # -- settings and state -----------------------------------------------------------

    @property
    def device(self) -> DeviceConfig:
        return device_config(self.runtime.services)

    @property
    def root(self) -> str:
        return topic_root(self.device.mqtt.client_id, self.device.mqtt.topic_prefix)

    @property
    def include_invalid(self) -> bool:
        return self.device.flexapi.include_invalid

    @property
    def values(self) -> LatestValues:
        return latest_values(self.runtime.services)

    @property
    def state_dir(self) -> Path | None:
        return self.runtime.state_dir

    async def save(self, name: str, value: Any) -> None:
        """Write a state file durably, off the event loop; raises StateError."""
        await asyncio.to_thread(statefiles.save, self.state_dir, name, value)

    # -- requests ---------------------------------------------------------------------

    async def on_input(self, msg: Msg) -> None:
        request = msg.get("flexapi")
        if not isinstance(request, dict) or not self.handles(request.get("group", ""), request.get("op", "")):
            return
        token = request.get("token")
        try:
            body = success(token, await self.handle(request, msg.get("payload") or {}))
        except RequestError as exc:
            body = failure(token, exc.code, exc.desc)
        except StateError as exc:
            body = failure(token, "device_error", f"state: {exc}")
        except Exception as exc:
            body = failure(token, "device_error", f"{request.get('group')}/{request.get('op')}: internal error")
            self.error(exc, msg)
        if request.get("ticket") is not None:  # a rejected request does not count against the retry interval
            limiter_of(self.runtime.services).settle(request["ticket"], "result" in body)
        self.send(response_msg(msg, body))
        self.after_response(request, body)

    async def handle(self, request: dict[str, Any], body: dict[str, Any]) -> Any:
        """Answer one request: return the result or raise RequestError."""
        raise NotImplementedError

    def after_response(self, request: dict[str, Any], body: dict[str, Any]) -> None:
        """Hook run once the response is on its way (app hooks)."""

    def info(self, group: str, payload: dict[str, Any]) -> None:
        """Publish a timer upload on ``{root}/{group}/info``."""
        self.send(make_msg(payload, topic=info_topic(self.root, group)))
