"""The config file's events and forward sections and smart reporting settings: round trip, defaults, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flowengine.errors import FlowConfigError
from nodes.flexapi import configfile, statefiles
from nodes.flexapi.event_config import EVENTS
from nodes.flexapi.event_types import EVENT_TYPES
from nodes.flexapi.forward_config import FORWARD

REPORT = {"max_interval": 30, "min_interval": 2, "distance": 200, "heading": 15, "stationary_interval": 3600}


def test_defaults_every_type_off_forward_as_it_arrives(tmp_path: Path) -> None:
    data = configfile.export_config(tmp_path)
    assert list(data["events"]) == list(EVENT_TYPES)
    assert not any(settings["enabled"] for settings in data["events"].values())
    assert data["events"]["OVERSPEED"] == {"enabled": False, "level": 2, "speed": 100, "duration": 5}
    assert data["events"]["COLLISION"]["level"] == 5
    assert data["forward"] == {"interval": 0, "interest": None}
    assert "report" not in data["groups"]["summary"]


def test_events_forward_and_report_round_trip(tmp_path: Path) -> None:
    data = configfile.export_config(tmp_path)
    data["events"]["DI_CHG"]["enabled"] = True
    data["events"]["OVERSPEED"].update(enabled=True, speed=90, duration=8)
    data["events"]["HARSH_BRAKING"].update(enabled=True, threshold=0.45, level=3)
    data["forward"] = {"interval": 10, "interest": {"forward.payload": ""}}
    data["groups"]["summary"]["report"] = REPORT
    data["custom_groups"] = [{"group_name": "trip", "interval": 10, "interest": {"gnss.speed": ""}, "report": REPORT}]
    configfile.import_config(tmp_path, json.loads(json.dumps(data)))
    assert configfile.export_config(tmp_path) == data
    assert EVENTS.load(tmp_path)["OVERSPEED"].speed == 90  # type: ignore[attr-defined]
    assert FORWARD.load(tmp_path).interval == 10
    configfile.restore_defaults(tmp_path)
    restored = configfile.export_config(tmp_path)
    assert restored["events"] == configfile.export_config(tmp_path / "fresh")["events"]
    assert (restored["forward"]["interval"], "report" in restored["groups"]["summary"]) == (0, False)


def test_a_partial_events_section_keeps_the_other_defaults(tmp_path: Path) -> None:
    data = {**configfile.export_config(tmp_path), "events": {"IDLE": {"enabled": True}}}
    del data["forward"]
    configfile.import_config(tmp_path, data)
    events = configfile.export_config(tmp_path)["events"]
    assert events["IDLE"] == {"enabled": True, "level": 1, "duration": 300}
    assert events["DI_CHG"] == {"enabled": False, "level": 1}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"events": {"SPEEDING": {"enabled": True}}}, "events.SPEEDING"),
        ({"events": {"OVERSPEED": {"speed": 0}}}, "events.OVERSPEED.speed"),
        ({"events": {"OVERSPEED": {"duration": "5"}}}, "events.OVERSPEED.duration"),
        ({"events": {"DI_CHG": {"enabled": "yes"}}}, "events.DI_CHG.enabled"),
        ({"events": {"DI_CHG": {"level": 6}}}, "events.DI_CHG.level"),
        ({"events": {"COLLISION": {"threshold": 1, "colour": "red"}}}, "events.COLLISION.colour"),
        ({"events": {"IDLE": True}}, "events.IDLE"),
        ({"events": []}, "events"),
        ({"forward": {"interval": 3601}}, "forward.interval"),
        ({"forward": {"interest": {"forward.other": ""}}}, "forward.interest.forward.other"),
        ({"forward": {"rate": 1}}, "forward.rate"),
        ({"groups": {"summary": {"report": {"distance": -5}}}}, "summary.report.distance"),
        ({"groups": {"gnss": {"report": REPORT}}}, "gnss.report"),
        (
            {"custom_groups": [{"group_name": "t", "interest": {"io.AI1": ""}, "report": {"heading": 181}}]},
            "custom_groups[0].report.heading",
        ),
    ],
)
def test_import_errors_name_the_field_and_change_nothing(tmp_path: Path, change: dict[str, Any], field: str) -> None:
    before = configfile.export_config(tmp_path)
    with pytest.raises(FlowConfigError) as raised:
        configfile.import_config(tmp_path, {**before, **change})
    assert raised.value.problems[0].message.startswith(field), raised.value.problems[0].message
    assert configfile.export_config(tmp_path) == before


def test_an_invalid_events_state_file_falls_back_to_the_defaults(tmp_path: Path, caplog: Any) -> None:
    statefiles.save(tmp_path, EVENTS.file, {"OVERSPEED": {"speed": "fast"}})
    assert EVENTS.load(tmp_path) == EVENTS.default()
    assert "STATE FILE INVALID: events.json: events.OVERSPEED.speed" in caplog.text
