"""``flexapi app``: ``app/refresh`` and ``app/control`` — the app parameters' state, durable, plus app hooks."""

from __future__ import annotations

from typing import Any

from flowengine.node import NodeConfig
from nodes.flexapi import statefiles
from nodes.flexapi.app_hook import hooks_of
from nodes.flexapi.control import WIFI_KEYS, parse_app_control
from nodes.flexapi.group_node import no_fields
from nodes.flexapi.handler import FlexApiNode

NOT_AVAILABLE = -1


class AppNode(FlexApiNode):
    """Keeps app values (Wi-Fi modes start as -1, N/A); hooks get the keys they declared."""

    Config = NodeConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state: dict[str, Any] = dict.fromkeys(WIFI_KEYS, NOT_AVAILABLE)
        self.state.update(statefiles.load_app(self.state_dir))
        self.values.update(self.state)
        self.claim("app", "refresh")
        self.claim("app", "control")

    def hook_keys(self) -> list[str]:
        return sorted({k for hook in hooks_of(self.runtime.services).values() for k in hook.keys})

    async def handle(self, request: dict[str, Any], body: dict[str, Any]) -> Any:
        if request["op"] == "refresh":
            no_fields(body)
            return self._report()
        values = parse_app_control(body, self.hook_keys())
        new = {**self.state, **values}
        await self.save(statefiles.APP, new)
        self.state = new
        self.values.update(values)
        return values

    def _report(self) -> dict[str, Any]:
        keys = [*WIFI_KEYS, *(k for k in self.hook_keys() if k not in WIFI_KEYS)]
        report = {k: self.state.get(k) for k in keys}
        return {k: v for k, v in report.items() if v is not None or self.include_invalid}

    def after_response(self, request: dict[str, Any], body: dict[str, Any]) -> None:
        if request["op"] == "control" and "result" in body:
            for hook in list(hooks_of(self.runtime.services).values()):
                hook.notify(body["result"])
