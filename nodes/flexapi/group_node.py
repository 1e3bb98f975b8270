"""``flexapi group``: one reserved group (summary, obd, gnss, ...): its settings, timer and refresh."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from pydantic import Field, field_validator

from flowengine.node import NodeConfig
from nodes.flexapi import statefiles
from nodes.flexapi.envelope import RequestError, invalid
from nodes.flexapi.groups import GROUPS, GroupDef
from nodes.flexapi.handler import FlexApiNode
from nodes.flexapi.settings import Settings, build_view, effective_interest, parse_settings_change, ts_keys_for

#: Groups with a node type of their own (state beyond settings).
OWN_TYPES = {"userdata": "flexapi userdata", "app": "flexapi app"}


class GroupConfig(NodeConfig):
    group: str = Field(description="reserved group name: summary, obd, gnss, motion, io, cellular1, 1-wire or sysinfo")

    @field_validator("group")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in GROUPS or value in OWN_TYPES:
            names = ", ".join(g for g in GROUPS if g not in OWN_TYPES)
            raise ValueError(f"{value!r} is not a reserved group served by this node type ({names})")
        return value


def no_fields(body: dict[str, Any]) -> None:
    """Refresh and get requests carry nothing but the client token."""
    for field in body:
        raise invalid(f"{field}: unknown field (this request takes only client_token)")


class GroupNode(FlexApiNode):
    """Keeps a group's interval and interest (durable), uploads on its timer, answers set and refresh."""

    Config: ClassVar[type[NodeConfig]] = GroupConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group: GroupDef = GROUPS[self.group_name()]
        self.settings: Settings = self.load_settings()
        self._timer: asyncio.Task[Any] | None = None
        self.claim(self.group.name, "refresh")
        if self.group.timed:
            self.claim(self.group.name, "set")

    def group_name(self) -> str:
        return str(self.config.group)  # type: ignore[attr-defined]

    def load_settings(self) -> Settings:
        return statefiles.load_group_settings(self.state_dir, self.group)

    async def save_settings(self, settings: Settings) -> None:
        await self.save(statefiles.group_file(self.group.name), settings.to_json())

    async def on_start(self) -> None:
        self.restart_timer()

    def restart_timer(self) -> None:
        """(Re)start the upload timer: a new interval takes effect at once (DESIGN #13)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.group.timed and self.settings.interval > 0:
            self._timer = self.every(self.settings.interval, self.upload, "upload")
        self.status(
            "green" if self._timer else "grey",
            "dot",
            f"every {self.settings.interval}s" if self._timer else "on demand",
        )

    def default_keys(self) -> list[str]:
        return self.group.keys()

    def view(self) -> tuple[dict[str, Any], bool]:
        interest = effective_interest(self.settings.interest, self.default_keys())
        ts = ts_keys_for(interest, self.group.prefixes)
        return build_view(interest, self.values.values, self.include_invalid, ts)

    def upload(self) -> None:
        payload, valid = self.view()
        if valid or self.include_invalid:
            self.info(self.group.name, payload)

    async def handle(self, request: dict[str, Any], body: dict[str, Any]) -> Any:
        if request["op"] == "refresh":
            return self.refresh(body)
        return await self.apply_settings(parse_settings_change(body, self.group.owns, f"group {self.group.name}"))

    def refresh(self, body: dict[str, Any]) -> dict[str, Any]:
        no_fields(body)
        payload, valid = self.view()
        if not valid:
            raise RequestError("data_invalid", f"{self.group.name}: no valid value for any key of the interest")
        return payload

    async def apply_settings(self, change: dict[str, Any]) -> dict[str, Any]:
        """Make a validated change durable, then live; the response echoes what was applied."""
        new = self.settings.applied(change)
        await self.save_settings(new)
        old, self.settings = self.settings, new
        if new.interval != old.interval:
            self.restart_timer()
        return change
