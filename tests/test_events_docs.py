"""The events and smart reporting pages say what the code does: types, levels, defaults, fields, ranges."""

from __future__ import annotations

import json
import re
from pathlib import Path

from nodes.flexapi.docgen import generate
from nodes.flexapi.event_config import events_json
from nodes.flexapi.event_types import EVENT_TYPES, default_events
from nodes.flexapi.report_rule import LIMITS

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_events_page_lists_every_type_with_its_level_and_the_default_config() -> None:
    text = (DOCS / "events.md").read_text()
    for event in EVENT_TYPES.values():
        name = "OBDII_DTC_<code>" if event.name == "OBDII_DTC" else event.name
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
        assert row.split("|")[2].strip() == str(event.level), row
        for pattern in event.snapshot:
            assert f"`{pattern}`" in row or "as IGON" in row or "as above" in row, (name, pattern)
    block = re.search(r'```json\n("events": \{.*?\n\})\n```', text, re.S)
    assert block, "the default events section as a JSON block"
    assert json.loads("{" + block.group(1) + "}")["events"] == events_json(default_events())


def test_smart_reporting_page_gives_every_field_and_its_range() -> None:
    text = (DOCS / "smart-reporting.md").read_text()
    for name, limit in LIMITS.items():
        assert re.search(rf"\| `{name}` \| [^|]+ \| 0\.\.{limit} \|", text), name


def test_topic_reference_covers_events_forward_and_report() -> None:
    text = generate()
    for needle in ("`{root}/event/notice`", "`{root}/forward/info`", "forward.payload_obdcan", '"report": {'):
        assert needle in text
    assert all(f"`{'OBDII_DTC_<code>' if t == 'OBDII_DTC' else t}`" in text for t in EVENT_TYPES)


def test_index_links_the_new_pages() -> None:
    index = (DOCS / "index.md").read_text()
    assert "(events.md)" in index and "(smart-reporting.md)" in index
