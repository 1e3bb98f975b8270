"""``flexapi store``: the device's latest values, fed by the source nodes, read by every group."""

from __future__ import annotations

from flowengine.message import Msg
from flowengine.node import Node, NodeConfig
from nodes.flexapi.values import latest_values


class StoreNode(Node[NodeConfig]):
    """Takes source msgs ``{payload: {"<prefix>.<param>": value, ...}}`` and keeps the latest of each."""

    Config = NodeConfig
    outputs = 0

    def on_input(self, msg: Msg) -> None:
        payload = msg.get("payload")
        if not isinstance(payload, dict):
            self.log.warning(
                "ignored a %s payload from %s: expected {key: value}", type(payload).__name__, msg.get("topic")
            )
            return
        store = latest_values(self.runtime.services)
        store.update(payload)
        self.status("green", "dot", f"{len(store.values)} values")
