"""``flexapi report``: smart reporting, the stage between the reporting groups and ``flexapi out``.

Wired from ``flexapi values`` (position, heading, speed, ignition) and from the
report outputs of ``summary`` and the custom groups; output 0 goes to ``flexapi
out``, output 1 back to those groups. Plain infos pass straight through, so a
group without a ``report`` object works exactly as before. A group with one hands
it over (``report/settings``, see report_link) and from then on reports when this
node sends it ``report/due``: while moving when ``max_interval`` elapsed or the
distance or heading change since its last report reaches its limit, never faster
than ``min_interval``; while stationary every ``stationary_interval``.
"""

from __future__ import annotations

from typing import Any

from flowengine.clock import Timer
from flowengine.message import Msg
from flowengine.node import Node, NodeConfig
from nodes.flexapi.keycheck import IgnitionKey
from nodes.flexapi.messages import values_of
from nodes.flexapi.report_link import REPORTED, SETTINGS_TOPIC, report_due
from nodes.flexapi.report_plan import ReportRule, Schedule, Vehicle
from nodes.flexapi.topics import topic_root

#: Output 0: infos, to flexapi out; output 1: ``report/due`` to the groups.
INFOS, DUE = 0, 1


class ReportConfig(NodeConfig):
    ignition_key: IgnitionKey = "io.DI1"


class ReportNode(Node[ReportConfig]):
    """Passes plain infos on to ``flexapi out`` and tells each group with a ``report`` object when to report.

    Messages on a topic under the FlexAPI root are infos (passed on); ``report/settings``
    messages are the groups' report objects; anything else is a value update.
    """

    Config = ReportConfig
    outputs = 2

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.vehicle = Vehicle(ignition_key=self.config.ignition_key)
        self.schedules: dict[str, Schedule] = {}
        self._nodes: dict[str, str] = {}
        self._timers: dict[str, Timer] = {}
        self._stationary_timer: Timer | None = None

    @property
    def root(self) -> str:
        mqtt = self.runtime.services.device.mqtt
        return topic_root(mqtt.client_id, mqtt.topic_prefix)

    async def on_start(self) -> None:
        self._show()

    def on_input(self, msg: Msg) -> None:
        topic = msg.get("topic")
        if topic == SETTINGS_TOPIC:
            self._hand_over(msg)
        elif isinstance(topic, str) and topic.startswith(self.root + "/"):
            self._reported(msg)
            self.send(msg, INFOS)
        elif (values := values_of(msg)) is not None:
            self._follow(values)

    def on_deployed(self, started: set[str]) -> None:
        """Forget groups whose node is gone (a removed custom group)."""
        for group, node_id in list(self._nodes.items()):
            if node_id not in self.runtime.nodes:
                self._forget(group)
        self._show()

    async def on_close(self) -> None:
        for timer in [*self._timers.values(), self._stationary_timer]:
            if timer is not None:
                timer.cancel()

    # -- groups --------------------------------------------------------------------

    def _hand_over(self, msg: Msg) -> None:
        group, report = str(msg.get("group")), msg.get("report")
        self._forget(group)
        if isinstance(report, dict):
            now = self.clock.now()
            self.schedules[group] = Schedule(ReportRule(**report), now, self.vehicle.position, self.vehicle.heading)
            self._nodes[group] = str(msg.get("node"))
            self._check(group)
        self._show()

    def _reported(self, info: Msg) -> None:
        """A report made for ``report/due``: distance and heading count from the position and heading it
        carried (the group may have taken a newer reading than the one this node decided on)."""
        reported = info.get(REPORTED)
        if isinstance(reported, dict) and (schedule := self.schedules.get(str(reported.get("group")))) is not None:
            schedule.rebase(reported)

    def _forget(self, group: str) -> None:
        self.schedules.pop(group, None)
        self._nodes.pop(group, None)
        timer = self._timers.pop(group, None)
        if timer is not None:
            timer.cancel()

    def _check(self, group: str) -> None:
        """Report now if due, then set the group's timer for its next look."""
        schedule, now = self.schedules.get(group), self.clock.now()
        if schedule is None:
            return
        if schedule.due(self.vehicle, now):
            schedule.reported(self.vehicle, now)
            self.send(report_due(group), DUE)
        if (timer := self._timers.pop(group, None)) is not None:
            timer.cancel()
        when = schedule.next_check(self.vehicle, now)
        if when is not None:
            self._timers[group] = self.clock.call_later(when - now, lambda: self._check(group))

    # -- the vehicle ---------------------------------------------------------------

    def _follow(self, values: dict[str, Any]) -> None:
        now = self.clock.now()
        was_stationary = self.vehicle.stationary(now)
        self.vehicle.update(values, now)
        self._watch_stationary(now)
        for group in list(self.schedules):
            self._check(group)
        if self.vehicle.stationary(now) != was_stationary:
            self._show()

    def _watch_stationary(self, now: float) -> None:
        """A timer for the moment slow driving becomes stationary (10 s under 3 km/h)."""
        if self._stationary_timer is not None:
            self._stationary_timer.cancel()
            self._stationary_timer = None
        when = self.vehicle.stationary_at(now)
        if when is not None:
            self._stationary_timer = self.clock.call_later(when - now, self._became_stationary)

    def _became_stationary(self) -> None:
        self._stationary_timer = None
        for group in list(self.schedules):
            self._check(group)
        self._show()

    def _show(self) -> None:
        state = "stationary" if self.vehicle.stationary(self.clock.now()) else "moving"
        groups = ", ".join(sorted(self.schedules)) or "no group"
        self.status("green" if self.schedules else "grey", "dot", f"{groups}: smart reporting ({state})")
