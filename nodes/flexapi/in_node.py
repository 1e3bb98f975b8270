"""``flexapi in``: subscribes the agent's own request topics on the device's MQTT link."""

from __future__ import annotations

import inspect
from typing import Any

from flowengine.message import make_msg
from flowengine.node import Node, NodeConfig
from nodes.flexapi.handler import device_config
from nodes.flexapi.topics import request_filters, topic_root


class FlexApiInNode(Node[NodeConfig]):
    """Emits ``{topic, payload: bytes, retain}`` for every request; subscribes nothing but request topics."""

    Config = NodeConfig
    accepts_input = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._subs: list[Any] = []

    async def on_start(self) -> None:
        link = self.runtime.services.get("mqtt")
        if link is None:
            self.status("red", "ring", "no MQTT link")
            self.log.warning("no MQTT link (services['mqtt']): requests cannot arrive")
            return
        device = device_config(self.runtime.services)
        root = topic_root(device.mqtt.client_id, device.mqtt.topic_prefix)
        for topic_filter in request_filters(root):
            sub = link.subscribe(topic_filter, device.mqtt.qos, self._received)
            self._subs.append(await sub if inspect.isawaitable(sub) else sub)
        self.status("green", "dot", root)

    def _received(self, topic: str, payload: bytes) -> None:
        self.send(make_msg(payload, topic=topic, retain=bool(getattr(payload, "retain", False))))

    async def on_close(self) -> None:
        link = self.runtime.services.get("mqtt")
        for sub in self._subs:
            result = link.unsubscribe(sub) if link is not None else None
            if inspect.isawaitable(result):
                await result
        self._subs.clear()
