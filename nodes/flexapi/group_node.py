"""``flexapi group``: one reserved group (summary, obd, gnss, ...): its values, settings, timer and refresh."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field, field_validator

from flowengine.message import Msg
from flowengine.node import ConfigT, NodeConfig
from nodes.flexapi import statefiles
from nodes.flexapi.envelope import RequestError, invalid
from nodes.flexapi.groups import GROUPS, GroupDef
from nodes.flexapi.handler import FlexApiNode
from nodes.flexapi.messages import request_of, values_of
from nodes.flexapi.report_link import (
    feeds_report_node,
    hand_over,
    is_due,
    mark_reported,
    report_node_restarted,
)
from nodes.flexapi.report_rule import SMART_GROUPS
from nodes.flexapi.settings import Settings, build_view, effective_interest, parse_settings_change, ts_keys_for

#: Groups with a node type of their own (state beyond settings).
OWN_TYPES = {"userdata": "flexapi userdata", "app": "flexapi app"}
#: Output 1: the group's reports (infos), to ``flexapi out``.
INFOS = 1


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


def prefix_of(key: str) -> str:
    return key.rsplit(".", 1)[0]


class GroupBase(FlexApiNode[ConfigT]):
    """A reserved group, in three named stages: collect, interest and alias, report.

    - **collect**: keeps the latest value of every key of the group's sources, from
      the value updates wired in (``flexapi values``);
    - **interest and alias**: the group's interest (durable, set by ``{group}/set``)
      picks and renames keys, with a ``<source>.ts`` stamp per source used;
    - **report**: every ``interval`` seconds the view goes out on output 1 (infos),
      and ``{group}/refresh`` answers with it on output 0 (answers). With a ``report``
      object (summary only) the group hands it to ``flexapi report`` on output 1
      instead of running its timer, and reports when that node says so.
    """

    outputs = 2

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.group: GroupDef = GROUPS[self.group_name()]
        self.latest: dict[str, Any] = {}
        self.settings: Settings = self.load_settings()
        self._timer: asyncio.Task[Any] | None = None

    def group_name(self) -> str:
        raise NotImplementedError

    def load_settings(self) -> Settings:
        return statefiles.load_group_settings(self.state_dir, self.group)

    async def save_settings(self, settings: Settings) -> None:
        await self.save(statefiles.group_file(self.group.name), settings.to_json())

    async def on_start(self) -> None:
        self.restart_timer()
        self.hand_over_report()  # also None: ends a report object it had before a restart

    def on_deployed(self, started: set[str]) -> None:
        if self.settings.report is not None and report_node_restarted(self, INFOS, started):
            self.hand_over_report()

    def on_input(self, msg: Msg) -> Any:
        if request_of(msg) is not None:
            return self.answer(msg)
        if is_due(msg, self.group.name):
            return self.upload(due=True) if self.settings.report is not None else None
        values = values_of(msg)
        if values:
            self.collect(values)
        return None

    # -- collect ----------------------------------------------------------------------

    def collect(self, values: dict[str, Any]) -> None:
        """Keep the latest value of the keys this group's sources provide."""
        conform = self.revision.conform
        for key, value in values.items():
            if prefix_of(key) in self.group.prefixes:
                self.latest[key] = conform(key, value)

    # -- interest and alias -------------------------------------------------------------

    def default_keys(self) -> list[str]:
        return self.group.keys(self.revision.params)

    def interest(self) -> dict[str, str]:
        """The keys this group reports, with their aliases."""
        return effective_interest(self.settings.interest, self.default_keys())

    def view(self) -> tuple[dict[str, Any], bool]:
        """(payload, any valid value): the interest's keys, aliased, with their ``.ts`` stamps,
        and the upload stamp ``<group>.ul_ts`` where the revision has one."""
        interest = self.interest()
        ts = ts_keys_for(interest, self.group.prefixes)
        payload, valid = build_view(interest, self.latest, self.include_invalid, ts)
        return {**self.revision.upload_stamp(self.group.name, self.clock.time()), **payload}, valid

    # -- report -------------------------------------------------------------------------

    def restart_timer(self) -> None:
        """(Re)start the upload timer: a new interval takes effect at once."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.group.timed and self.settings.interval > 0 and self.settings.report is None:
            self._timer = self.every(self.settings.interval, self.upload, "upload")
        running = self._timer is not None
        if self.settings.report is not None:
            self.status("green", "dot", "smart reporting")
            return
        self.status(
            "green" if running else "grey", "dot", f"every {self.settings.interval}s" if running else "on demand"
        )

    def upload(self, due: bool = False) -> None:
        """Send the view; ``due``: made for the report node's ``report/due`` (tagged with what it reported)."""
        payload, valid = self.view()
        if valid or self.include_invalid:
            msg = self.info_msg(self.group.name, payload)
            self.send(mark_reported(msg, self.group.name, self.latest) if due else msg, INFOS)

    # -- requests -----------------------------------------------------------------------

    async def handle(self, request: dict[str, Any], body: dict[str, Any]) -> Any:
        op = request["op"]
        if op == "refresh":
            return self.refresh(body)
        if op == "set" and self.group.timed:
            key_ok = self.group.key_check(self.revision.params)
            smart = self.group.name in SMART_GROUPS
            change = parse_settings_change(body, key_ok, f"group {self.group.name}", report_ok=smart)
            return await self.apply_settings(change)
        raise RequestError("not_support", f"{self.group.name}/{op}: the {self.group.name} group has no {op} request")

    def refresh(self, body: dict[str, Any]) -> dict[str, Any]:
        no_fields(body)
        if not self.interest():
            raise RequestError("data_empty", f"{self.group.name}: the group holds no keys")
        payload, valid = self.view()
        if not valid:
            raise RequestError("data_invalid", f"{self.group.name}: no valid value for any key of the interest")
        return payload

    async def apply_settings(self, change: dict[str, Any]) -> dict[str, Any]:
        """Make a validated change durable, then live; the response echoes what was applied."""
        new = self.settings.applied(change)
        await self.save_settings(new)
        old, self.settings = self.settings, new
        if (new.interval, new.report) != (old.interval, old.report):
            self.restart_timer()
        if new.report != old.report:
            self.hand_over_report()
        return change

    def hand_over_report(self) -> None:
        """Tell ``flexapi report`` (wired to output 1) the report object; without one wired, nothing reports."""
        if feeds_report_node(self, INFOS):
            self.send(hand_over(self.group.name, self.id, self.settings.report), INFOS)
        elif self.settings.report is not None:
            self.log.warning("has a report object but output 1 is not wired to flexapi report: it will not report")


class GroupNode(GroupBase[GroupConfig]):
    """A reserved group, in three named stages: collect, interest and alias, report.

    - **collect**: keeps the latest value of every key of the group's sources, from
      the value updates wired in (``flexapi values``);
    - **interest and alias**: the group's interest (durable, set by ``{group}/set``)
      picks and renames keys, with a ``<source>.ts`` stamp per source used;
    - **report**: every ``interval`` seconds the view goes out on output 1 (infos),
      and ``{group}/refresh`` answers with it on output 0 (answers).
    """

    Config = GroupConfig

    def group_name(self) -> str:
        return self.config.group
