"""``flexapi app``: ``app/refresh`` and ``app/control`` — the app parameters' state, durable, plus app hooks.

Acknowledge only the truth: a control is checked (including the values its hooks
allow), written to disk, then handed to the hooks of its keys; a hook's flow may
refuse it (``device_error`` with the flow's text), and the file is rolled back.
"""

from __future__ import annotations

import asyncio
from typing import Any

from flowengine.errors import StateError
from flowengine.message import Msg, make_msg
from flowengine.node import NodeConfig
from nodes.flexapi import statefiles
from nodes.flexapi.app_hook import AppHookNode
from nodes.flexapi.control import WIFI_KEYS, ValueCheck, parse_app_control
from nodes.flexapi.envelope import RequestError
from nodes.flexapi.group_node import no_fields
from nodes.flexapi.handler import FlexApiNode

NOT_AVAILABLE = -1
#: Output 1: the app values, to ``flexapi values`` (custom groups may carry them).
VALUES = 1


class AppNode(FlexApiNode[NodeConfig]):
    """Keeps app values (Wi-Fi modes start as -1, N/A); the ``app hook`` nodes that refer to it
    declare more keys (and their allowed values), get the values of theirs, may refuse a
    request, and report the app's state."""

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

    def value_checks(self) -> dict[str, list[ValueCheck]]:
        checks: dict[str, list[ValueCheck]] = {}
        for hook in self.hooks():
            for key, found in hook.value_checks().items():
                checks.setdefault(key, []).extend(found)
        return checks

    async def handle(self, request: dict[str, Any], body: dict[str, Any]) -> Any:
        if request["op"] == "refresh":
            no_fields(body)
            return self._report()
        if request["op"] != "control":
            raise RequestError("not_support", f"app/{request['op']}: the app group has no {request['op']} request")
        values = parse_app_control(body, self.hook_keys(), self.value_checks())
        new = {**self.state, **values}
        await self.save(statefiles.APP, new)
        refusal = await self._ask_hooks(values, request.get("token"))
        if refusal is not None:
            kept = await self._roll_back(new)
            raise RequestError("device_error", f"{', '.join(values)}: {refusal}{kept}")
        merged = {**self.state, **values}
        if merged != new:  # a hook's flow reported state while the request waited
            await self.save(statefiles.APP, merged)
        self.state = merged
        self.send(make_msg(values, topic="app"), VALUES)
        return values

    async def _ask_hooks(self, values: dict[str, Any], token: str | None) -> str | None:
        """Hand the values to the hooks of their keys; the first refusal, or None."""
        answers = await asyncio.gather(*(hook.ask(values, token) for hook in self.hooks()))
        return next((a for a in answers if a is not None), None)

    async def _roll_back(self, written: dict[str, Any]) -> str:
        try:
            await self.save(statefiles.APP, self.state)
        except StateError as exc:
            self.log.error("app state file could not be rolled back (%s); the next start loads what it says", exc)
            return f"; the saved app state could not be rolled back ({exc}): the next start loads {written}"
        return ""

    async def report_state(self, values: dict[str, Any]) -> None:
        """An app hook's flow reports the app's state of its keys: durable first, then what refresh returns."""
        new = {**self.state, **values}
        await self.save(statefiles.APP, new)
        self.state = new
        self.send(make_msg(values, topic="app"), VALUES)

    def _report(self) -> dict[str, Any]:
        keys = [*WIFI_KEYS, *(k for k in self.hook_keys() if k not in WIFI_KEYS)]
        report = {k: self.state.get(k) for k in keys}
        stamp = self.revision.upload_stamp("app", self.clock.time())
        return {**stamp, **{k: v for k, v in report.items() if v is not None or self.include_invalid}}
