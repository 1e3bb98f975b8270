"""``flexapi app``: ``app/refresh`` and ``app/control`` — the app parameters' state, durable, plus app hooks."""

from __future__ import annotations

from typing import Any

from flowengine.message import Msg, make_msg
from flowengine.node import NodeConfig
from nodes.flexapi import statefiles
from nodes.flexapi.app_hook import AppHookNode
from nodes.flexapi.control import WIFI_KEYS, parse_app_control
from nodes.flexapi.group_node import no_fields
from nodes.flexapi.handler import FlexApiNode

NOT_AVAILABLE = -1
#: Output 1: the app values, to ``flexapi values`` (custom groups may carry them).
VALUES = 1


class AppNode(FlexApiNode[NodeConfig]):
    """Keeps app values (Wi-Fi modes start as -1, N/A); the ``app hook`` nodes that refer to it
    declare more keys and get the accepted values of theirs."""

    Config = NodeConfig
    outputs = 2

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.state: dict[str, Any] = dict.fromkeys(WIFI_KEYS, NOT_AVAILABLE)
        self.state.update(statefiles.load_app(self.state_dir))

    async def on_start(self) -> None:
        self.send(make_msg(dict(self.state), topic="app"), VALUES)

    def on_input(self, msg: Msg) -> Any:
        return self.answer(msg)

    def hooks(self) -> list[AppHookNode]:
        graph = self.runtime.graph
        ids = sorted(graph.dependents(self.id)) if graph is not None else []
        return [n for i in ids if isinstance(n := self.runtime.nodes.get(i), AppHookNode)]

    def hook_keys(self) -> list[str]:
        return sorted({k for hook in self.hooks() for k in hook.keys})

    async def handle(self, request: dict[str, Any], body: dict[str, Any]) -> Any:
        if request["op"] == "refresh":
            no_fields(body)
            return self._report()
        values = parse_app_control(body, self.hook_keys())
        new = {**self.state, **values}
        await self.save(statefiles.APP, new)
        self.state = new
        self.send(make_msg(values, topic="app"), VALUES)
        return values

    def _report(self) -> dict[str, Any]:
        keys = [*WIFI_KEYS, *(k for k in self.hook_keys() if k not in WIFI_KEYS)]
        report = {k: self.state.get(k) for k in keys}
        return {k: v for k, v in report.items() if v is not None or self.include_invalid}

    def after_response(self, request: dict[str, Any], body: dict[str, Any]) -> None:
        if request["op"] == "control" and "result" in body:
            for hook in self.hooks():
                hook.notify(body["result"])
