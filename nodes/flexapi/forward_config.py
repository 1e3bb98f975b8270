"""The ``"forward"`` section of the FlexAPI config file: how the forward group reports.

``{"interval": N, "interest": null}``: ``interval`` seconds between reports (0: each
message as it arrives); ``interest`` picks and renames the forward keys, as a
group's interest does (null: all four, unaliased), and is accepted so that a
configuration written for the 1.0.9 device imports unchanged. Kept in
``<state_dir>/flexapi/forward.json``, read by ``flexapi forward`` when it is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nodes.flexapi.envelope import invalid, json_kind
from nodes.flexapi.settings import check_interest, check_interval
from nodes.flexapi.statesection import StateSection

GROUP = "forward"
#: The forward keys (1.0.9, A.9), by the ``msg.topic`` (last level) that selects each.
KEYS = {
    "": "forward.payload",
    "bt": "forward.payload_bt",
    "can": "forward.payload_can",
    "obdcan": "forward.payload_obdcan",
}
_FIELDS = ("interval", "interest")


@dataclass(frozen=True)
class ForwardSettings:
    interval: int = 0
    interest: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"interval": self.interval, "interest": self.interest}


def parse_forward(data: Any) -> ForwardSettings:
    """Validate a forward section; raises RequestError naming ``forward.<field>``."""
    if not isinstance(data, dict):
        raise invalid(f"forward: must be an object, got {json_kind(data)}")
    for name in data:
        if name not in _FIELDS:
            raise invalid(f"forward.{name}: unknown field (expected interval, interest)")
    interval = check_interval(data.get("interval", 0), "forward.interval")
    interest = data.get("interest")
    if interest is not None:
        interest = check_interest(interest, lambda k: k in KEYS.values(), GROUP, "forward.interest")
    return ForwardSettings(interval, interest)


FORWARD = StateSection("forward", "forward.json", parse_forward, ForwardSettings.to_json, ForwardSettings)
