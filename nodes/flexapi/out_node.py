"""``flexapi out``: publishes responses and group infos on the device's MQTT link with its QoS."""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any

from flowengine.message import Msg
from flowengine.node import Node, NodeConfig
from nodes.flexapi.handler import device_config


def encode(payload: Any) -> bytes:
    """JSON on the wire, compact; bytes pass through."""
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


#: Seconds between refreshes of the link status.
LINK_STATUS_PERIOD = 2.0


class FlexApiOutNode(Node[NodeConfig]):
    """Publishes ``msg.payload`` (JSON) on ``msg.topic`` with the device's QoS.

    Its status shows the link: connected or offline, and how many info messages
    wait (offline store or memory queue) and were dropped; a ``status`` node scoped
    to it hands those changes to a flow (e.g. ``offline (store): 42 waiting, 0 dropped``).
    """

    Config = NodeConfig
    outputs = 0

    async def on_start(self) -> None:
        self.every(LINK_STATUS_PERIOD, self.show_link, "link-status")
        self.show_link()

    def show_link(self) -> None:
        """Refresh the status from the link's offline figures."""
        link = self.runtime.services.get("mqtt")
        if link is None or not hasattr(link, "offline_stats"):
            return
        figures = {"connected": bool(link.connected), **link.offline_stats().as_dict()}
        backlog = f"{figures['waiting']} waiting, {figures['dropped']} dropped"
        if figures["connected"]:
            self.status("green", "dot", "connected" + (f"; {backlog}" if figures["waiting"] else ""))
        else:
            self.status("yellow", "ring", f"offline ({figures['mode']}): {backlog}")

    def on_input(self, msg: Msg) -> None:
        link = self.runtime.services.get("mqtt")
        if link is None:
            self.status("red", "ring", "no MQTT link")
            return
        qos = device_config(self.runtime.services).mqtt.qos
        result = link.publish(str(msg["topic"]), encode(msg.get("payload")), qos=qos)
        if inspect.isawaitable(result):
            future = asyncio.ensure_future(result)
            future.add_done_callback(self._published)

    def _published(self, future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            self.log.warning("publish failed: %s", future.exception())
