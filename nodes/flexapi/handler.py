"""Base of the FlexAPI nodes that answer requests: the answer envelope, durable state, device settings.

A handler gets its requests from ``flexapi request`` (which routes each one to
exactly one handler) and sends the answer on output 0, wired back to it. Every
request gets exactly one answer, whatever goes wrong in between.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowengine.errors import StateError
from flowengine.message import Msg, make_msg
from flowengine.node import ConfigT, Node
from flowengine.state import write_json_off_loop
from nodes.flexapi import statefiles
from nodes.flexapi.device_settings import FlexApiSettings, flexapi_settings
from nodes.flexapi.envelope import RequestError, failure, success
from nodes.flexapi.messages import request_of, response_msg
from nodes.flexapi.revision import ApiRevision, api_revision
from nodes.flexapi.topics import info_topic, topic_root

RESPONSES = 0


class FlexApiNode(Node[ConfigT]):
    """A node that answers FlexAPI requests (output 0: answers, back to ``flexapi request``)."""

    @property
    def settings_section(self) -> FlexApiSettings:
        return flexapi_settings(self.runtime.services.device)

    @property
    def revision(self) -> ApiRevision:
        """The FlexAPI revision the device speaks (``[flexapi] revision``)."""
        return api_revision(self.runtime.services.device)

    @property
    def root(self) -> str:
        mqtt = self.runtime.services.device.mqtt
        return topic_root(mqtt.client_id, mqtt.topic_prefix)

    @property
    def include_invalid(self) -> bool:
        return self.settings_section.include_invalid

    @property
    def state_dir(self) -> Path | None:
        return self.runtime.state_dir

    async def save(self, name: str, value: Any) -> None:
        """Write a state file durably on the state writer's thread; raises StateError."""
        if self.state_dir is not None:
            await write_json_off_loop(statefiles.flexapi_dir(self.state_dir) / name, value)

    async def answer(self, msg: Msg) -> None:
        """Handle the request in ``msg`` and send its one answer."""
        request = request_of(msg)
        if request is None:
            return
        token = request.get("token")
        try:
            body = success(token, await self.handle(request, msg.get("payload") or {}))
        except RequestError as exc:
            body = failure(token, exc.condition, exc.desc)
        except StateError as exc:
            body = failure(token, "device_error", f"state: {exc}")
        except Exception as exc:
            body = failure(token, "device_error", f"{request.get('group')}/{request.get('op')}: internal error")
            self.error(exc, msg)
        self.send(response_msg(request, body), RESPONSES)
        self.after_response(request, body)

    async def handle(self, request: dict[str, Any], body: dict[str, Any]) -> Any:
        """Answer one request: return the result or raise RequestError."""
        raise NotImplementedError

    def after_response(self, request: dict[str, Any], body: dict[str, Any]) -> None:
        """Hook run once the answer is on its way."""

    def info_msg(self, group: str, payload: dict[str, Any]) -> Msg:
        """A report of ``group`` on ``{root}/{group}/info``."""
        return make_msg(payload, topic=info_topic(self.root, group))
