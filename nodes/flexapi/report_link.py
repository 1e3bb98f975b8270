"""How a group with a ``report`` and ``flexapi report`` talk over their wires.

A group's report output is wired to ``flexapi report``, whose output 1 is wired
back to the group. The group hands over its ``report`` object (when it starts,
when it changes and when the report node restarts); the report node answers
with a ``report/due`` message naming the group each time a report is due, and the
group sends its view on its report output at once, as an ordinary info, which
the report node passes on to ``flexapi out``. That info carries ``msg.reported``: the
group and the position and heading its view was made with, which the next report's
distance and heading count from (the group may have taken a newer reading than the one the
report node decided on).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowengine.message import Msg, make_msg
from flowengine.node import Node

#: Group -> report node: ``{topic, group, node, report}`` (``report`` None: the group left smart reporting).
SETTINGS_TOPIC = "report/settings"
#: Report node -> groups: ``{topic, group}``: the named group reports now.
DUE_TOPIC = "report/due"
REPORT_TYPE = "flexapi report"
#: Group -> report node, on the info made for ``report/due``: ``{group, gnss.latitude, gnss.longitude, gnss.heading}``.
REPORTED = "reported"
POSITION_KEYS = ("gnss.latitude", "gnss.longitude", "gnss.heading")


def hand_over(group: str, node_id: str, report: Mapping[str, int] | None) -> Msg:
    """The message that tells the report node a group's ``report`` object."""
    return make_msg(None, topic=SETTINGS_TOPIC, group=group, node=node_id, report=dict(report) if report else None)


def report_due(group: str) -> Msg:
    return make_msg(None, topic=DUE_TOPIC, group=group)


def mark_reported(msg: Msg, group: str, latest: Mapping[str, Any]) -> Msg:
    """Tag the info made for ``report/due`` with the group and the position and heading of its view."""
    msg[REPORTED] = {"group": group, **{key: latest[key] for key in POSITION_KEYS if key in latest}}
    return msg


def is_due(msg: Msg, group: str) -> bool:
    """True for the report node's ``report/due`` addressed to ``group``."""
    return msg.get("topic") == DUE_TOPIC and msg.get("group") == group


def feeds_report_node(node: Node[Any], port: int) -> bool:
    """True when ``port`` is wired to a ``flexapi report`` node (which takes report objects, even ``None``)."""
    return any(target.type_name == REPORT_TYPE for target in node.runtime.targets(node, port))


def report_node_restarted(node: Node[Any], port: int, started: set[str]) -> bool:
    """True when a deploy restarted a node wired to ``port`` (it lost the groups' report objects)."""
    return node.id not in started and any(target.id in started for target in node.runtime.targets(node, port))
