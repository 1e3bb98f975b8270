"""The ``report`` object of smart reporting: when a group reports while moving and while stationary.

``{"max_interval": s, "min_interval": s, "distance": m, "heading": degrees,
"stationary_interval": s}``; 0 disables a condition and a field left out is 0.
Accepted for ``summary`` (``summary/set``, the config file) and for custom groups
(``group/set`` items, ``{name}/set``, the config file); ``null`` removes it and the
group's ``interval`` applies again.
"""

from __future__ import annotations

from typing import Any

from nodes.flexapi.envelope import invalid, json_kind

#: Reserved groups that take a ``report`` (custom groups always do).
SMART_GROUPS = frozenset({"summary"})
#: Every field and its largest value.
LIMITS = {
    "max_interval": 86400,
    "min_interval": 3600,
    "distance": 100_000,
    "heading": 180,
    "stationary_interval": 86400,
}

Report = dict[str, int]


def parse_report(value: Any, field: str = "report") -> Report | None:
    """A validated report object with every field (``None`` for ``null``); raises naming ``report.<field>``."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid(f"{field}: must be an object ({', '.join(LIMITS)}) or null, got {json_kind(value)}")
    for name in value:
        if name not in LIMITS:
            raise invalid(f"{field}.{name}: unknown field (expected {', '.join(LIMITS)})")
    report = {name: _number(value.get(name, 0), f"{field}.{name}", limit) for name, limit in LIMITS.items()}
    if 0 < report["max_interval"] < report["min_interval"]:
        raise invalid(f"{field}.min_interval: {report['min_interval']} is longer than max_interval")
    return report


def _number(value: Any, field: str, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"{field}: must be an integer, got {json_kind(value)}")
    if not 0 <= value <= limit:
        raise invalid(f"{field}: {value} is outside 0..{limit}")
    return value
