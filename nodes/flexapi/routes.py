"""The request routing table of ``flexapi request``: which output each request topic leaves by.

A route is a space-separated list of patterns: ``group`` (any request of that
group), ``group/op``, with ``+`` for any group or op. The first route with a
matching pattern wins; a request no route matches is answered ``not_found``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OPS = ("set", "refresh", "get", "control", "toggle")
_NAME = re.compile(r"\+|[A-Za-z0-9_.\-]{1,64}")


@dataclass(frozen=True)
class Pattern:
    group: str
    op: str

    def matches(self, group: str, op: str) -> bool:
        return self.group in ("+", group) and self.op in ("+", op)


def parse_route(route: str) -> list[Pattern]:
    """``"io/set io/refresh"`` -> patterns; raises ValueError naming the bad part."""
    patterns = []
    for part in route.split():
        group, _, op = part.partition("/")
        op = op or "+"
        if not _NAME.fullmatch(group) or (op != "+" and op not in OPS):
            raise ValueError(f"{part!r} is not a route pattern (group, group/op, '+' for any; ops {', '.join(OPS)})")
        patterns.append(Pattern(group, op))
    if not patterns:
        raise ValueError("an empty route never matches; remove it")
    return patterns


def route_for(table: list[list[Pattern]], group: str, op: str) -> int | None:
    """The output of the first route matching (group, op), or None."""
    for port, patterns in enumerate(table):
        if any(p.matches(group, op) for p in patterns):
            return port
    return None
