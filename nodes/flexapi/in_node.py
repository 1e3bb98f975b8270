"""``flexapi in``: subscribes the agent's own request topics on the device's MQTT link."""

from __future__ import annotations

from typing import Any

from flowengine.message import make_msg
from flowengine.mqtt.subscriptions import Subscription
from flowengine.node import Node, NodeConfig
from nodes.flexapi.topics import request_filters, topic_root


class FlexApiInNode(Node[NodeConfig]):
    """Emits ``{topic, payload: bytes, retain}`` for every request; subscribes nothing but request topics."""

    Config = NodeConfig
    accepts_input = False

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._subs: list[Subscription] = []

    async def on_start(self) -> None:
        link = self.runtime.services.link
        if link is None:
            self.status("red", "ring", "no MQTT link")
            self.log.warning("the runtime has no device link: requests cannot arrive")
            return
        mqtt = self.runtime.services.device.mqtt
        root = topic_root(mqtt.client_id, mqtt.topic_prefix)
        for topic_filter in request_filters(root):
            self._subs.append(link.subscribe(topic_filter, mqtt.qos, self._received))
        self.status("green", "dot", root)

    def _received(self, topic: str, payload: bytes) -> None:
        self.send(make_msg(payload, topic=topic, retain=bool(getattr(payload, "retain", False))))

    async def on_close(self) -> None:
        link = self.runtime.services.link
        for sub in self._subs:
            if link is not None:
                link.unsubscribe(sub)
        self._subs.clear()
