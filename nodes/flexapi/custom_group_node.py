"""``flexapi custom group``: one custom group's values and timer report (generated from the stored definitions)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from flowengine.message import Msg, make_msg
from flowengine.node import Node, NodeConfig
from nodes.flexapi.device_settings import flexapi_settings
from nodes.flexapi.groups import MAX_INTERVAL
from nodes.flexapi.messages import values_of
from nodes.flexapi.params import canonical
from nodes.flexapi.settings import build_view
from nodes.flexapi.topics import info_topic, topic_root


class CustomGroupConfig(NodeConfig):
    group_name: str = Field(min_length=1, description="the custom group's name (its topics)")
    interval: int = Field(ge=0, le=MAX_INTERVAL, description="seconds between uploads; 0: no timer")
    interest: dict[str, str] = Field(min_length=1, description="key: alias ('' = no alias)")


class CustomGroupNode(Node[CustomGroupConfig]):
    """Collects its interest keys from the values wired in and publishes ``{root}/{group_name}/info``
    every ``interval`` seconds with only those keys, aliased."""

    Config = CustomGroupConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.latest: dict[str, Any] = {}
        self._keys = {canonical(k) for k in self.config.interest}

    async def on_start(self) -> None:
        interval = self.config.interval
        if interval > 0:
            self.every(interval, self.upload, "upload")
        self.status("green" if interval else "grey", "dot", f"every {interval}s" if interval else "on demand")

    def on_input(self, msg: Msg) -> None:
        values = values_of(msg)
        if values:
            self.latest.update((k, v) for k, v in values.items() if k in self._keys)

    def upload(self) -> None:
        device = self.runtime.services.device
        include_invalid = flexapi_settings(device).include_invalid
        payload, valid = build_view(self.config.interest, self.latest, include_invalid)
        if valid or include_invalid:
            root = topic_root(device.mqtt.client_id, device.mqtt.topic_prefix)
            self.send(make_msg(payload, topic=info_topic(root, self.config.group_name)))
