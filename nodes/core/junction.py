"""``junction``: a wiring point; passes every message straight on."""

from __future__ import annotations

from flowengine.message import Msg
from flowengine.node import Node, NodeConfig


class JunctionNode(Node[NodeConfig]):
    """Passes each message on unchanged: the dot Node-RED draws to fan wires in and out."""

    Config = NodeConfig

    def on_input(self, msg: Msg) -> None:
        self.send(msg)
