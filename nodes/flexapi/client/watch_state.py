"""What ``flowengine watch`` knows about a device: latest group values, recent messages, link state (pure).

Messages come in as (path below the device's root, payload, time); the view
(:mod:`.watch_view`) renders a snapshot of this state, so everything shown can
be tested without a terminal.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: Gaps between uploads averaged for a group's rate.
RATE_WINDOW = 10
#: Recent events and responses kept for the view.
LOG_SIZE = 8
REQUEST_OPS = ("set", "refresh", "get", "control", "toggle")


@dataclass
class GroupView:
    """One group's latest upload and how often uploads come."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)
    last_at: float | None = None
    count: int = 0
    gaps: deque[float] = field(default_factory=lambda: deque(maxlen=RATE_WINDOW))

    def update(self, values: dict[str, Any], at: float) -> None:
        self.changed = {k for k, v in values.items() if k not in self.values or self.values[k] != v}
        self.values = values
        if self.last_at is not None:
            self.gaps.append(at - self.last_at)
        self.last_at = at
        self.count += 1

    def age(self, now: float) -> float | None:
        return None if self.last_at is None else max(0.0, now - self.last_at)

    def interval(self) -> float | None:
        """Mean seconds between uploads (None until two arrived)."""
        return sum(self.gaps) / len(self.gaps) if self.gaps else None

    def late(self, now: float) -> bool:
        """No upload for more than twice the usual interval."""
        age, interval = self.age(now), self.interval()
        return age is not None and interval is not None and age > 2 * interval + 1


@dataclass(frozen=True)
class LogLine:
    """A message for the log: an event, a response, a request seen from another platform, or anything else."""

    wall: float
    path: str
    kind: str  # "event", "response", "request", "other"
    payload: Any  # decoded JSON, or the text when it is not JSON


@dataclass(frozen=True)
class Classified:
    kind: str  # "info", "event", "response", "request", "other"
    group: str


def classify(path: str) -> Classified:
    """What a message below the root is, and which group it concerns."""
    parts = path.split("/")
    if path == "event/notice":
        return Classified("event", "")
    if parts[-1] == "resp":
        return Classified("response", parts[0])
    if len(parts) == 2 and parts[1] == "info":
        return Classified("info", parts[0])
    if len(parts) == 2 and parts[1] in REQUEST_OPS:
        return Classified("request", parts[0])
    return Classified("other", parts[0])


def decode(payload: bytes) -> Any:
    """The JSON value of a payload, or its text when it is not JSON."""
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")


class WatchState:
    """Everything the live view shows, fed message by message."""

    def __init__(self, root: str, groups: Sequence[str] = ()) -> None:
        self.root = root
        self.only = tuple(groups)
        self.groups: dict[str, GroupView] = {name: GroupView(name) for name in self.only}
        self.log: deque[LogLine] = deque(maxlen=LOG_SIZE)
        self.heard_at: float | None = None  # the device's last message (monotonic)
        self.messages = 0
        self.connected = False
        self.link_reason = "connecting"
        self.link_at: float | None = None

    def wants(self, path: str) -> bool:
        """Named groups only, when groups were named (events and other messages always)."""
        kind = classify(path)
        return not self.only or kind.kind in ("event", "other") or kind.group in self.only

    def message(self, path: str, payload: bytes, at: float, wall: float) -> None:
        """Record one message (``at`` monotonic, ``wall`` epoch seconds)."""
        kind = classify(path)
        self.messages += 1
        if kind.kind != "request":
            self.heard_at = at
        value = decode(payload)
        if kind.kind == "info" and isinstance(value, dict):
            self.groups.setdefault(kind.group, GroupView(kind.group)).update(value, at)
        else:  # an info payload that is not an object is shown as it is
            self.log.append(LogLine(wall, path, "other" if kind.kind == "info" else kind.kind, value))

    def link(self, connected: bool, reason: str, at: float) -> None:
        self.connected, self.link_reason, self.link_at = connected, reason, at
