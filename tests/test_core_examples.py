"""The core-node example flows validate and do what their description says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flowengine.flowfile import load_flows
from flowengine.graph import build_graph
from flowengine.registry import NodeTypeRegistry
from flowengine.testing import FlowHarness

EXAMPLES = Path(__file__).resolve().parent.parent / "flows" / "examples"


def example(name: str, tap: str, **changes: dict[str, Any]) -> list[dict[str, Any]]:
    """The example's nodes, with a helper ``tap`` added after node ``tap`` and some properties changed."""
    nodes = json.loads((EXAMPLES / name).read_text())
    for obj in nodes:
        obj.update(changes.get(obj["id"], {}))
        if obj["id"] == tap:
            obj["wires"] = [[*obj["wires"][0], "tap"]]
    return [*nodes, {"id": "tap", "type": "helper", "z": nodes[1]["z"], "wires": []}]


@pytest.mark.parametrize("name", ["core-temperature-alarm.json", "core-heartbeat-watchdog.json"])
def test_example_validates(name: str) -> None:
    graph = build_graph(load_flows([EXAMPLES / name]), NodeTypeRegistry())
    assert graph.specs


def test_temperature_alarm_raises_once_then_clears(harness: FlowHarness) -> None:
    nodes = example(
        "core-temperature-alarm.json",
        tap="alarm_notice_text",
        alarm_reading={"repeat": "", "once": False},
        alarm_latch={"duration": "200", "units": "ms"},
        alarm_notice_rate={"rate": "50", "rateUnits": "second"},
    )
    harness.deploy(nodes)
    harness.inject("alarm_to_celsius", payload={"coolant_f": 230})
    harness.inject("alarm_to_celsius", payload={"coolant_f": 240})
    harness.inject("alarm_to_celsius", payload={"coolant_f": 150})
    raised, cleared = (json.loads(m["payload"]) for m in harness.received("tap", 2))
    assert raised == {"alarm": "coolant_hot", "state": "raised"}
    assert cleared == {"alarm": "coolant_hot", "state": "cleared"}
    assert harness.node("alarm_remember").context("flow").get("coolant_c") == 65.6


def test_heartbeat_watchdog_reports_lost_and_back(harness: FlowHarness) -> None:
    nodes = example(
        "core-heartbeat-watchdog.json",
        tap="wd_notice_text",
        wd_beat={"repeat": "", "once": False},
        wd_watch={"duration": "100", "units": "ms"},
    )
    harness.deploy(nodes)
    harness.inject("wd_beat")
    assert harness.one("tap")["payload"] == "heartbeat lost after 1 beats"
    harness.inject("wd_beat")
    assert harness.one("tap")["payload"] == "heartbeat back after 2 beats"
    assert harness.one("tap")["payload"] == "heartbeat lost after 2 beats"
