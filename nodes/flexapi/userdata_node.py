"""``flexapi userdata``: the user data group — values the platform stores on the device, plus settings."""

from __future__ import annotations

from typing import Any

from flowengine.message import Msg, make_msg
from flowengine.node import NodeConfig
from nodes.flexapi import statefiles, userdata_ops
from nodes.flexapi.group_node import GroupBase
from nodes.flexapi.messages import request_of, values_of
from nodes.flexapi.params import is_userdata_key
from nodes.flexapi.settings import Settings
from nodes.flexapi.values_node import SNAPSHOT_TOPIC

#: Output 2: the user data values, to ``flexapi values`` (custom groups may carry them).
VALUES = 2


class UserdataNode(GroupBase[NodeConfig]):
    """Insert/update/delete user data (durable), report it on its timer, answer refresh.

    Its values are its own (it is their source): every change also goes out on
    output 2, wired to ``flexapi values``; a deleted key goes out as None. When it
    restarts (a configuration import), the snapshot ``flexapi values`` sends it
    names the user data keys it no longer has: they go out as None too.
    """

    Config = NodeConfig
    outputs = 3

    def group_name(self) -> str:
        return "userdata"

    def load_settings(self) -> Settings:
        data, settings = statefiles.load_userdata(self.state_dir, self.group)
        self.latest = dict(data)
        return settings  # type: ignore[no-any-return]

    async def save_settings(self, settings: Settings) -> None:
        await self.save(statefiles.USERDATA, statefiles.userdata_json(self.latest, settings))

    async def on_start(self) -> None:
        await super().on_start()
        if self.latest:
            self.send(make_msg(dict(self.latest), topic="userdata"), VALUES)

    def on_input(self, msg: Msg) -> Any:
        if request_of(msg) is None and msg.get("topic") == SNAPSHOT_TOPIC:
            self._forget_stale(values_of(msg) or {})
            return None
        return super().on_input(msg)

    def collect(self, values: dict[str, Any]) -> None:
        """User data comes from requests only."""

    def _forget_stale(self, snapshot: dict[str, Any]) -> None:
        """Keys the store still holds that this node's state no longer has (replaced by an import)."""
        stale = [k for k, v in snapshot.items() if is_userdata_key(k) and v is not None and k not in self.latest]
        if stale:
            self.send(make_msg(dict.fromkeys(stale), topic="userdata"), VALUES)

    def default_keys(self) -> list[str]:
        return list(self.latest)

    async def handle(self, request: dict[str, Any], body: dict[str, Any]) -> Any:
        if request["op"] == "refresh":
            return self.refresh(body)
        op = userdata_ops.userdata_operation(body)
        if op == "settings":
            return await self.apply_settings(userdata_ops.parse_settings(body))
        return await self.apply_data(op, body[op])

    async def apply_data(self, op: str, data: Any) -> dict[str, Any]:
        new, result = userdata_ops.apply_operation(op, data, self.latest)
        await self.save(statefiles.USERDATA, statefiles.userdata_json(new, self.settings))
        changed: dict[str, Any] = {k: v for k, v in new.items() if self.latest.get(k, _GONE) != v}
        changed.update(dict.fromkeys(set(self.latest) - set(new)))
        self.latest = new
        if changed:
            self.send(make_msg(changed, topic="userdata"), VALUES)
        return result


_GONE = object()
