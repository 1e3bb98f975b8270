"""``flexapi out``: publishes responses, reports and events on the device's MQTT link with its QoS."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from flowengine.logthrottle import LogThrottle
from flowengine.message import Msg
from flowengine.node import Node, NodeConfig
from nodes.flexapi.messages import is_response
from nodes.flexapi.request_node import trace


def encode(payload: Any) -> bytes:
    """JSON on the wire, compact; bytes pass through."""
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


#: Seconds between refreshes of the link status.
LINK_STATUS_PERIOD = 2.0


class FlexApiOutNode(Node[NodeConfig]):
    """Publishes ``msg.payload`` (JSON) on ``msg.topic`` with the device's QoS.

    Everything but answers to requests is durable: with ``--offline-store`` it waits
    on disk while the broker is out of reach (answers are only worth something now).
    Its status shows the link: connected or offline, and how many durable messages
    wait (offline store or memory queue) and were dropped; a ``status`` node scoped
    to it hands those changes to a flow (e.g. ``offline (store): 42 waiting, 0 dropped``).
    """

    Config = NodeConfig
    outputs = 0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._log = LogThrottle(self.log)

    async def on_start(self) -> None:
        self.every(LINK_STATUS_PERIOD, self.show_link, "link-status")
        self.show_link()

    def show_link(self) -> None:
        """Refresh the status from the link's offline figures."""
        link = self.runtime.services.link
        if link is None:
            return
        figures = {"connected": bool(link.connected), **link.offline_stats().as_dict()}
        backlog = f"{figures['waiting']} waiting, {figures['dropped']} dropped"
        if figures["connected"]:
            self.status("green", "dot", "connected" + (f"; {backlog}" if figures["waiting"] else ""))
        else:
            self.status("yellow", "ring", f"offline ({figures['mode']}): {backlog}")

    def on_input(self, msg: Msg) -> None:
        link = self.runtime.services.link
        if link is None:
            self.status("red", "ring", "no MQTT link")
            return
        qos = self.runtime.services.device.mqtt.qos
        data, durable = encode(msg.get("payload")), not is_response(msg)
        if trace.isEnabledFor(logging.DEBUG) and durable:  # answers are traced by flexapi request
            trace.debug("publish %s %d bytes", msg["topic"], len(data))
        result = link.publish(str(msg["topic"]), data, qos, durable=durable)
        result.add_done_callback(self._published)

    def _published(self, future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            self._log.warning("publish", "publish failed: %s", future.exception())
