"""``flexapi custom groups``: create, update, remove and read custom groups; each one runs as a generated node.

The definitions are durable (``custom_groups.json``); every change is written
first, then handed to ``runtime.update_generated`` so each custom group becomes a
``flexapi custom group`` node in the running graph, wired from ``flexapi values``
and through ``flexapi report`` to ``flexapi out`` like ``summary``. If the graph rejects the result,
the old definitions are written back and nothing changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowengine.errors import FlowConfigError, StateError
from flowengine.message import Msg
from flowengine.node import NodeConfig
from nodes.flexapi import statefiles
from nodes.flexapi.customdefs import Groups, describe, parse_group_set
from nodes.flexapi.envelope import RequestError, invalid
from nodes.flexapi.group_node import no_fields
from nodes.flexapi.groups import custom_key_check
from nodes.flexapi.handler import FlexApiNode
from nodes.flexapi.messages import request_of, values_of
from nodes.flexapi.settings import build_view, parse_settings_change

GENERATOR = "custom-groups"
#: Ids of the default flow's nodes that generated custom group nodes are wired from and to: values come
#: from flexapi values, reports go through flexapi report (smart reporting; plain infos pass on to flexapi out).
VALUES_NODE_ID = "flexapi-values"
REPORT_NODE_ID = "flexapi-report"
TAB_ID = "flexapi-agent"


def node_dicts(groups: Groups) -> list[dict[str, Any]]:
    """One ``flexapi custom group`` node per custom group, fed by ``flexapi values``, reporting through
    ``flexapi report`` (which also tells it when a smart report is due) to ``flexapi out``."""
    return [
        {
            "id": f"flexapi-custom-{name}",
            "type": "flexapi custom group",
            "z": TAB_ID,
            "name": name,
            "group_name": name,
            "interval": settings.interval,
            "interest": settings.interest,
            "report": settings.report,
            "wiredFrom": [VALUES_NODE_ID, [REPORT_NODE_ID, 1]],
            "wires": [[REPORT_NODE_ID]],
        }
        for name, settings in groups.items()
    ]


def generated_nodes(state_dir: Path) -> list[dict[str, Any]]:
    """The custom group nodes kept in ``state_dir`` (for start-up and ``flowengine graph --state-dir``)."""
    return node_dicts(statefiles.load_custom_groups(state_dir))


class CustomGroupsNode(FlexApiNode[NodeConfig]):
    """Answers group/set, group/get, and {name}/set, {name}/refresh of every custom group.

    It also collects every value (wired from ``flexapi values``) to answer refreshes;
    a name that is no custom group gets ``not_found``.
    """

    Config = NodeConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.groups: Groups = statefiles.load_custom_groups(self.state_dir)
        self.latest: dict[str, Any] = {}

    async def on_start(self) -> None:
        self.create_task(self._deploy_groups(), "generate")

    async def _deploy_groups(self) -> None:
        """Make the running graph match the stored groups (after this deploy has finished)."""
        await self.runtime.update_generated(GENERATOR, node_dicts(self.groups))
        self.status("green", "dot", f"{len(self.groups)} custom group(s)")

    def on_input(self, msg: Msg) -> Any:
        if request_of(msg) is not None:
            return self.answer(msg)
        values = values_of(msg)
        if values:
            conform = self.revision.conform
            self.latest.update((key, conform(key, value)) for key, value in values.items())
        return None

    async def handle(self, request: dict[str, Any], body: dict[str, Any]) -> Any:
        group, op = request["group"], request["op"]
        if group == "group" and op == "get":
            no_fields(body)
            return [describe(n, s) for n, s in self.groups.items()]
        key_ok = custom_key_check(self.revision.params)
        if group == "group" and op == "set":
            new, result = parse_group_set(body, self.groups, key_ok)
            await self._commit(new)
            return result
        if group == "group":
            raise RequestError("not_support", f"group/{op}: custom groups are managed by group/set and group/get")
        if group not in self.groups or op not in ("set", "refresh"):
            raise RequestError("not_found", f"group: {group!r} does not exist")
        if op == "refresh":
            return self._refresh(group, body)
        change = parse_settings_change(body, key_ok, f"custom group {group}", report_ok=True)
        await self._commit({**self.groups, group: self.groups[group].applied(change)})
        return change

    def _refresh(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        no_fields(body)
        interest = self.groups[name].interest or {}
        payload, valid = build_view(interest, self.latest, self.include_invalid)
        if not valid:
            raise RequestError("data_invalid", f"{name}: no valid value for any key of the interest")
        return payload

    async def _commit(self, new: Groups) -> None:
        """Durable first, then live; a graph that rejects the groups restores the old file."""
        old = self.groups
        await self.save(statefiles.CUSTOM_GROUPS, statefiles.custom_groups_json(new))
        try:
            await self.runtime.update_generated(GENERATOR, node_dicts(new))
        except FlowConfigError as exc:
            kept = await self._roll_back(old, new)
            raise invalid(f"settings: {exc.problems[0].message if exc.problems else exc}{kept}") from None
        self.groups = new
        self.status("green", "dot", f"{len(new)} custom group(s)")

    async def _roll_back(self, old: Groups, written: Groups) -> str:
        """The graph kept the old groups: the file must say so too. When even that fails, say what the
        next start will run (the answer must not hide it)."""
        try:
            await self.save(statefiles.CUSTOM_GROUPS, statefiles.custom_groups_json(old))
        except StateError as exc:
            self.log.error("custom groups file could not be rolled back (%s); the next start runs what it says", exc)
            return f"; the saved custom groups could not be rolled back ({exc}): the next start runs {sorted(written)}"
        return ""
