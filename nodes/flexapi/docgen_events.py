"""Topic reference sections for smart reporting, the forward group and the event service (see docgen).

Like the rest of the reference, every example is computed by the functions the
agent runs, from the parameter table's example values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from nodes.flexapi.customdefs import describe, parse_group_set
from nodes.flexapi.event_notice import notice, parse_event, snapshot
from nodes.flexapi.event_types import EVENT_TYPES, LEVELS
from nodes.flexapi.forward_config import KEYS
from nodes.flexapi.forward_node import batched, forward_key
from nodes.flexapi.groups import GROUPS
from nodes.flexapi.params import PARAMS
from nodes.flexapi.report_rule import LIMITS
from nodes.flexapi.settings import parse_settings_change

EXAMPLES = {k: p.example for k, p in PARAMS.items()}
STARTS_AT = 1_700_000_000
REPORT = {"max_interval": 30, "min_interval": 2, "distance": 200, "heading": 15, "stationary_interval": 3600}


def _json(value: Any) -> str:
    return "```json\n" + json.dumps(value, indent=2, ensure_ascii=False) + "\n```"


def report_section(exchange: Any) -> Iterator[str]:
    yield "## Smart reporting (our extension)\n"
    yield "A `report` object in `summary/set`, in `group/set` items and in `{name}/set` of a custom group"
    yield "(`null` removes it; then `interval` applies again). Fields, each 0 (disabled) when left out:\n"
    yield "| field | unit | range |\n|---|---|---|"
    yield from (
        f"| `{name}` | {'m' if name == 'distance' else 'degrees' if name == 'heading' else 's'} | 0..{limit} |"
        for name, limit in LIMITS.items()
    )
    yield "\nSee [smart-reporting.md](smart-reporting.md) for when reports go out.\n"
    body = {"report": REPORT}
    summary = GROUPS["summary"]
    yield from exchange("summary/set", body, parse_settings_change(body, summary.owns, "summary", report_ok=True))
    create = {
        "settings": [
            {"group_name": "trip", "interest": {"gnss.latitude": "lat", "gnss.longitude": "lon"}, "report": REPORT}
        ]
    }
    groups, result = parse_group_set(create, {})
    yield from exchange("group/set", create, result)
    yield from exchange("group/get", None, [describe(n, s) for n, s in groups.items()])


def forward_section() -> Iterator[str]:
    yield "## Forward group (1.0.9)\n"
    yield "`{root}/forward/info`, subscribe only (no set, no refresh): what a flow sends into `flexapi forward`."
    yield "`msg.topic` (its last level, or the full key name) picks the key:\n"
    yield "| msg.topic | key |\n|---|---|"
    yield from (f"| `{topic}` | `{key}` |" for topic, key in KEYS.items() if topic)
    yield f"| anything else | `{KEYS['']}` |"
    yield "\nWith `forward.interval` 0 (the config file; default) each message goes out as it arrives:\n"
    yield _json({forward_key("sensors/temp"): {"t": 21.5}}) + "\n"
    yield "With an interval, what arrived in between goes out together, each key with its payloads, oldest first:\n"
    arrived = [
        (forward_key("app"), {"t": 21.5}),
        (forward_key("forward/bt"), "beacon 7"),
        (forward_key(""), {"t": 21.7}),
    ]
    yield _json(batched(arrived)) + "\n"


def events_section() -> Iterator[str]:
    yield "## Event service (1.0.9)\n"
    yield "`{root}/event/notice`, subscribe only; the link's QoS, kept in the offline store like infos."
    yield "Levels: " + ", ".join(f"{n} {name}" for n, name in LEVELS.items()) + ".\n"
    yield "| type | default level | fields | snapshot |\n|---|---|---|---|"
    for event in EVENT_TYPES.values():
        name = "OBDII_DTC_<code>" if event.name == "OBDII_DTC" else event.name
        yield f"| `{name}` | {event.level} | {event.fields or '-'} | {', '.join(f'`{p}`' for p in event.snapshot)} |"
    yield "\nEvery type is off until the config file's `events` section enables it ([events.md](events.md)).\n"
    raised = parse_event({"type": "OVERSPEED", "level": 2, "speed_limit": 100, "speed": 112.5})
    cleared = parse_event({"type": "OVERSPEED", "status": "clear", "level": 2, "speed_limit": 100, "max_speed": 131.0})
    fast, slower = ({**EXAMPLES, "gnss.speed": v, "obd.speed": int(v)} for v in (112.5, 96.0))
    yield "An OVERSPEED raise:\n"
    yield _json(notice(raised, STARTS_AT, None, snapshot(fast, raised.snapshot, False))) + "\n"
    yield "and its clear:\n"
    yield _json(notice(cleared, STARTS_AT, STARTS_AT + 95, snapshot(slower, cleared.snapshot, False))) + "\n"
