"""``flexapi custom group``: one custom group's timer upload (generated from the stored definitions)."""

from __future__ import annotations

from pydantic import Field

from flowengine.message import make_msg
from flowengine.node import Node, NodeConfig
from nodes.flexapi.groups import MAX_INTERVAL
from nodes.flexapi.handler import device_config
from nodes.flexapi.settings import build_view
from nodes.flexapi.topics import info_topic, topic_root
from nodes.flexapi.values import latest_values


class CustomGroupConfig(NodeConfig):
    group_name: str = Field(min_length=1, description="the custom group's name (its topics)")
    interval: int = Field(ge=0, le=MAX_INTERVAL, description="seconds between uploads; 0: no timer")
    interest: dict[str, str] = Field(min_length=1, description="key: alias ('' = no alias)")


class CustomGroupNode(Node[CustomGroupConfig]):
    """Publishes ``{root}/{group_name}/info`` every ``interval`` seconds with only the interest keys."""

    Config = CustomGroupConfig
    accepts_input = False

    async def on_start(self) -> None:
        interval = self.config.interval  # type: ignore[attr-defined]
        if interval > 0:
            self.every(interval, self.upload, "upload")
        self.status("green" if interval else "grey", "dot", f"every {interval}s" if interval else "on demand")

    def upload(self) -> None:
        device = device_config(self.runtime.services)
        include_invalid = device.flexapi.include_invalid
        payload, valid = build_view(self.config.interest, latest_values(self.runtime.services).values, include_invalid)  # type: ignore[attr-defined]
        if valid or include_invalid:
            root = topic_root(device.mqtt.client_id, device.mqtt.topic_prefix)
            self.send(make_msg(payload, topic=info_topic(root, self.config.group_name)))  # type: ignore[attr-defined]
