"""``flexapi custom group``: one custom group's values and timer report (generated from the stored definitions)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from flowengine.message import Msg, make_msg
from flowengine.node import Node, NodeConfig
from nodes.flexapi.device_settings import flexapi_settings
from nodes.flexapi.envelope import RequestError
from nodes.flexapi.groups import MAX_INTERVAL
from nodes.flexapi.messages import values_of
from nodes.flexapi.params import canonical
from nodes.flexapi.report_link import (
    feeds_report_node,
    hand_over,
    is_due,
    mark_reported,
    report_node_restarted,
)
from nodes.flexapi.report_rule import Report, parse_report
from nodes.flexapi.revision import api_revision
from nodes.flexapi.settings import build_view
from nodes.flexapi.topics import info_topic, topic_root


class CustomGroupConfig(NodeConfig):
    group_name: str = Field(min_length=1, description="the custom group's name (its topics)")
    interval: int = Field(ge=0, le=MAX_INTERVAL, description="seconds between uploads; 0: no timer")
    interest: dict[str, str] = Field(min_length=1, description="key: alias ('' = no alias)")
    report: Report | None = Field(
        default=None, description="smart reporting (docs/smart-reporting.md): reports when flexapi report says so"
    )

    @field_validator("report", mode="before")
    @classmethod
    def _report(cls, value: Any) -> Report | None:
        try:
            return parse_report(value)
        except RequestError as exc:
            raise ValueError(exc.desc) from None


class CustomGroupNode(Node[CustomGroupConfig]):
    """Collects its interest keys from the values wired in and publishes ``{root}/{group_name}/info``
    every ``interval`` seconds with only those keys, aliased.

    With a ``report`` object it hands that to ``flexapi report`` (its output is wired
    there) instead of running a timer, and publishes when that node says so.
    """

    Config = CustomGroupConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.latest: dict[str, Any] = {}
        self._keys = {canonical(k) for k in self.config.interest}

    async def on_start(self) -> None:
        if feeds_report_node(self, 0):  # also None: ends a report object it had before
            self.send(hand_over(self.config.group_name, self.id, self.config.report))
        if self.config.report is not None:
            self.status("green", "dot", "smart reporting")
            return
        interval = self.config.interval
        if interval > 0:
            self.every(interval, self.upload, "upload")
        self.status("green" if interval else "grey", "dot", f"every {interval}s" if interval else "on demand")

    def on_deployed(self, started: set[str]) -> None:
        if self.config.report is not None and report_node_restarted(self, 0, started):
            self.send(hand_over(self.config.group_name, self.id, self.config.report))

    def on_input(self, msg: Msg) -> None:
        if is_due(msg, self.config.group_name):
            if self.config.report is not None:
                self.upload(due=True)
            return
        values = values_of(msg)
        if values:
            conform = api_revision(self.runtime.services.device).conform
            self.latest.update((k, conform(k, v)) for k, v in values.items() if k in self._keys)

    def upload(self, due: bool = False) -> None:
        """Send the view; ``due``: made for the report node's ``report/due`` (tagged with what it reported)."""
        device = self.runtime.services.device
        include_invalid = flexapi_settings(device).include_invalid
        payload, valid = build_view(self.config.interest, self.latest, include_invalid)
        if valid or include_invalid:
            root = topic_root(device.mqtt.client_id, device.mqtt.topic_prefix)
            msg = make_msg(payload, topic=info_topic(root, self.config.group_name))
            self.send(mark_reported(msg, self.config.group_name, self.latest) if due else msg)
