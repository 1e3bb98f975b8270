"""Event messages and the notices built from them (pure functions).

Anything that raises an event sends ``flexapi event`` a message with
``topic: "event"`` and a payload::

    {"type": "DOOR_OPEN", "status": "raise", "level": 2, "snapshot": ["gnss.*", "io.DI3"], "door": "rear"}

``type`` is required (letters, digits, ``_``); ``status`` is ``raise`` (default) or
``clear``; ``level`` 1..5 and ``snapshot`` (key patterns) default to the type's
entry in the event table, or 1 and ``gnss.*`` for a type it does not know; every
other field (a name without a dot) is copied into the notice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from nodes.flexapi.envelope import json_kind
from nodes.flexapi.event_types import EVENT_TYPES, USER_SNAPSHOT, EventType

#: ``msg.topic`` of an event message.
EVENT_TOPIC = "event"
TYPE_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
DTC_PREFIX = "OBDII_DTC_"
MAX_PATTERNS = 32
MAX_FIELDS_BYTES = 4096
_OWN = ("type", "status", "level", "snapshot", "starts_at", "ends_at")


class EventMessageError(ValueError):
    """An event message that cannot become a notice; the text names the field."""


@dataclass(frozen=True)
class Event:
    type: str
    status: str
    level: int
    snapshot: tuple[str, ...]
    fields: dict[str, Any] = field(default_factory=dict)


def table_entry(event_type: str) -> EventType | None:
    """The event table's entry for a type (``OBDII_DTC_<code>`` belongs to ``OBDII_DTC``)."""
    if event_type.startswith(DTC_PREFIX):
        return EVENT_TYPES["OBDII_DTC"]
    return EVENT_TYPES.get(event_type)


def parse_event(payload: Any) -> Event:
    """An event message's payload -> Event; raises EventMessageError naming the field."""
    if not isinstance(payload, dict):
        raise EventMessageError(f"payload: must be an object with at least type, got {json_kind(payload)}")
    event_type = payload.get("type")
    if not isinstance(event_type, str) or not TYPE_NAME.fullmatch(event_type):
        raise EventMessageError("payload.type: required, 1-64 letters, digits or '_'")
    entry = table_entry(event_type)
    status = payload.get("status", "raise")
    if status not in ("raise", "clear"):
        raise EventMessageError(f"payload.status: must be 'raise' or 'clear', got {status!r:.40}")
    level = payload.get("level", entry.level if entry else 1)
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5:
        raise EventMessageError("payload.level: must be an integer 1..5 (5 Emergency .. 1 Notice)")
    snapshot = _patterns(payload.get("snapshot", entry.snapshot if entry else USER_SNAPSHOT))
    return Event(event_type, status, level, snapshot, _fields(payload))


def _patterns(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or len(value) > MAX_PATTERNS:
        raise EventMessageError(f"payload.snapshot: must be a list of up to {MAX_PATTERNS} key patterns")
    if not all(isinstance(p, str) and p for p in value):
        raise EventMessageError("payload.snapshot: every pattern must be a non-empty string, e.g. 'gnss.*'")
    return tuple(value)


def _fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    extra = {k: v for k, v in payload.items() if k not in _OWN}
    for name in extra:
        if "." in name:
            raise EventMessageError(f"payload.{name}: field names take no '.' (dotted names are snapshot keys)")
    try:
        size = len(json.dumps(extra, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise EventMessageError(f"payload: fields must be plain JSON ({exc})") from None
    if size > MAX_FIELDS_BYTES:
        raise EventMessageError(f"payload: fields take {size} bytes, more than {MAX_FIELDS_BYTES}")
    return extra


def snapshot(latest: Mapping[str, Any], patterns: tuple[str, ...], include_invalid: bool) -> dict[str, Any]:
    """The latest values of the keys matching ``patterns`` (invalid ones left out unless ``include_invalid``)."""
    return {
        key: value
        for key, value in latest.items()
        if (value is not None or include_invalid) and any(fnmatchcase(key, p) for p in patterns)
    }


def notice(event: Event, starts_at: int, ends_at: int | None, values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``event/notice`` payload: times, status, type, level, the event's fields, then the snapshot."""
    times = {"starts_at": starts_at} if ends_at is None else {"starts_at": starts_at, "ends_at": ends_at}
    return {**times, "status": event.status, "type": event.type, "level": event.level, **event.fields, **values}
