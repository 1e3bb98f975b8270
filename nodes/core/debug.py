"""``debug``: writes messages to the log (the runtime has no editor sidebar)."""

from __future__ import annotations

import json
import logging

from flowengine.message import Msg, get_path
from flowengine.node import Node, NodeConfig


class DebugConfig(NodeConfig):
    active: bool = True
    complete: str | bool = "payload"
    console: bool = False
    tosidebar: bool = True


class DebugNode(Node):
    Config = DebugConfig
    config: DebugConfig
    outputs = 0

    def on_input(self, msg: Msg) -> None:
        if not self.config.active:
            return
        complete = self.config.complete
        value = msg if complete in (True, "true") else get_path(msg, str(complete or "payload"))
        self.log.log(logging.INFO, "%s", json.dumps(value, default=repr)[:4000])
