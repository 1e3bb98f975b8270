"""``flexapi userdata``: the user data group — values the platform stores on the device, plus settings."""

from __future__ import annotations

from typing import Any

from flowengine.node import NodeConfig
from nodes.flexapi import statefiles, userdata_ops
from nodes.flexapi.group_node import GroupNode
from nodes.flexapi.settings import Settings


class UserdataNode(GroupNode):
    """Insert/update/delete user data (durable), upload it on a timer, answer refresh."""

    Config = NodeConfig

    def group_name(self) -> str:
        return "userdata"

    def load_settings(self) -> Settings:
        self.data, settings = statefiles.load_userdata(self.state_dir, self.group)
        self.values.update(self.data)
        return settings  # type: ignore[no-any-return]

    async def save_settings(self, settings: Settings) -> None:
        await self.save(statefiles.USERDATA, statefiles.userdata_json(self.data, settings))

    def default_keys(self) -> list[str]:
        return list(self.data)

    async def handle(self, request: dict[str, Any], body: dict[str, Any]) -> Any:
        if request["op"] == "refresh":
            return self.refresh(body)
        op = userdata_ops.userdata_operation(body)
        if op == "settings":
            return await self.apply_settings(userdata_ops.parse_settings(body))
        return await self.apply_data(op, body[op])

    async def apply_data(self, op: str, data: Any) -> dict[str, Any]:
        new, result = userdata_ops.apply_operation(op, data, self.data)
        await self.save(statefiles.USERDATA, statefiles.userdata_json(new, self.settings))
        removed = set(self.data) - set(new)
        self.data = new
        self.values.remove(removed)
        self.values.update(new)
        return result
