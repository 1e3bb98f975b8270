"""The ``"events"`` section of the FlexAPI config file: which types are raised, and their thresholds.

``{"DI_CHG": {"enabled": true}, "OVERSPEED": {"enabled": true, "speed": 100, "duration": 5}, ...}``;
a type or field left out keeps its default. Kept in ``<state_dir>/flexapi/events.json``
and read by the detector nodes when they are built.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from nodes.flexapi.envelope import invalid, json_kind
from nodes.flexapi.event_types import EVENT_TYPES, EventSettings, default_events
from nodes.flexapi.statesection import StateSection

Events = dict[str, EventSettings]


def parse_events(data: Any) -> Events:
    """Validate an events section; raises RequestError naming ``events.<TYPE>.<field>``."""
    if not isinstance(data, dict):
        raise invalid(f"events: must be an object of event types, got {json_kind(data)}")
    for name in data:
        if name not in EVENT_TYPES:
            raise invalid(f"events.{name}: not an event type ({', '.join(EVENT_TYPES)})")
    events = default_events()
    for name, settings in data.items():
        events[name] = _parse_type(name, settings)
    return events


def _parse_type(name: str, settings: Any) -> EventSettings:
    if not isinstance(settings, dict):
        raise invalid(f"events.{name}: must be an object, got {json_kind(settings)}")
    event = EVENT_TYPES[name]
    try:
        return event.model.model_validate({"level": event.level, **event.defaults, **settings})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in (name, *error["loc"]))
        raise invalid(f"events.{where}: {error['msg']}") from None


def events_json(events: Events) -> dict[str, Any]:
    return {name: settings.model_dump() for name, settings in events.items()}


EVENTS = StateSection("events", "events.json", parse_events, events_json, default_events)
