"""Smart reporting on a fake clock: report spacing against a track fed as value updates.

The flow is the reporting stage of the default flow: ``flexapi values`` -> ``summary``
and ``flexapi report``; summary's reports go through ``flexapi report`` to the sink
``out``, and ``flexapi report`` tells summary when a report is due.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_flexapi_nodes import Agent, start_agent

from flowengine.clock import FakeClock
from flowengine.config import DeviceConfig
from flowengine.testing import FlowHarness, wait_until
from nodes.flexapi import statefiles
from nodes.flexapi.report_plan import EARTH_RADIUS, distance_m, heading_change

INFO = "v1/dev1/summary/info"
START = (48.0, 11.0)
INTEREST = {"gnss.latitude": "lat", "gnss.longitude": "lon", "gnss.heading": "hdg"}


def north(metres: float) -> float:
    """The latitude ``metres`` north of the start."""
    return START[0] + math.degrees(metres / EARTH_RADIUS)


class Track:
    """Summary with a ``report`` object behind ``flexapi report``; values fed second by second."""

    def __init__(self, tmp_path: Path, report: dict[str, int] | None, interval: int = 10) -> None:
        state = tmp_path / "state"
        settings = {"interval": interval, "interest": INTEREST, **({"report": report} if report else {})}
        statefiles.save(state, statefiles.group_file("summary"), settings)
        device = DeviceConfig.model_validate({"mqtt": {"client_id": "dev1"}})
        self.h = FlowHarness(state_dir=state, device=device, clock=FakeClock())
        self.h.deploy(
            [
                {"id": "values", "type": "flexapi values", "wires": [["summary", "report"]]},
                {"id": "summary", "type": "flexapi group", "group": "summary", "wires": [["answers"], ["report"]]},
                {"id": "report", "type": "flexapi report", "wires": [["out"], ["summary"]]},
                {"id": "out", "type": "helper"},
                {"id": "answers", "type": "helper"},
            ],
            tmp_path,
        )
        self.t = 0
        self.reports: list[tuple[int, dict[str, Any]]] = []

    def feed(self, values: dict[str, Any]) -> None:
        self.h.inject("values", topic="test", payload=values)
        self._collect()

    def second(self, values: dict[str, Any] | None = None) -> None:
        """One second passes, then ``values`` arrive."""
        self.h.advance(1)
        self.t += 1
        self._collect()
        if values:
            self.feed(values)

    def _collect(self) -> None:
        for msg in self.h.taken("out"):
            assert msg["topic"] == INFO
            self.reports.append((self.t, msg["payload"]))

    def times(self) -> list[int]:
        return [t for t, _ in self.reports]

    def close(self) -> None:
        self.h.close()


@pytest.fixture
def track(tmp_path: Path) -> Iterator[Any]:
    made: list[Track] = []

    def build(report: dict[str, int] | None, interval: int = 10) -> Track:
        made.append(Track(tmp_path, report, interval))
        return made[-1]

    yield build
    for t in made:
        t.close()


def moving(metres: float, heading: float = 0.0, speed: float = 54.0) -> dict[str, Any]:
    return {"gnss.latitude": north(metres), "gnss.longitude": START[1], "gnss.heading": heading, "gnss.speed": speed}


def test_reports_by_distance_travelled_since_the_last_report(track: Any) -> None:
    t = track({"distance": 200})
    t.feed(moving(0))
    for second in range(1, 61):
        t.second(moving(15.0 * second))  # 54 km/h
    assert t.times() == [14, 28, 42, 56]  # 14 x 15 m = 210 m: the first fix at or past 200 m
    points = [START] + [(r["lat"], r["lon"]) for _, r in t.reports]
    spacing = [distance_m(a, b) for a, b in itertools.pairwise(points)]
    assert all(200 <= gap < 215 for gap in spacing), spacing


def test_reports_by_heading_change_either_way_round(track: Any) -> None:
    t = track({"heading": 30})
    t.feed(moving(0, heading=340.0))
    for second in range(1, 19):
        t.second(moving(10.0 * second, heading=(340.0 + 5 * second) % 360))
    assert t.times() == [6, 12, 18]  # 340 -> 10 is 30 degrees
    headings = [340.0] + [r["hdg"] for _, r in t.reports]
    assert [heading_change(a, b) for a, b in itertools.pairwise(headings)] == [30.0, 30.0, 30.0]


def test_min_interval_holds_back_early_triggers(track: Any) -> None:
    t = track({"distance": 10, "min_interval": 5})
    t.feed(moving(0))
    for second in range(1, 13):
        t.second(moving(15.0 * second))
    assert t.times() == [5, 10]  # due every second, spaced by the minimum interval


def test_a_held_back_trigger_goes_out_when_the_min_interval_ends_without_new_values(track: Any) -> None:
    t = track({"distance": 10, "min_interval": 5})
    t.feed(moving(0))
    t.second(moving(15))
    for _ in range(6):
        t.second()
    assert t.times() == [5]
    assert t.reports[0][1]["lat"] == pytest.approx(north(15))


def test_max_interval_while_moving(track: Any) -> None:
    t = track({"max_interval": 30, "distance": 1000})
    t.feed(moving(0))
    for _ in range(95):
        t.second()
    assert t.times() == [30, 60, 90]


def test_stationary_after_ten_seconds_slow_reports_every_stationary_interval(track: Any) -> None:
    t = track({"max_interval": 30, "stationary_interval": 120})
    t.feed(moving(0, speed=50.0))
    for _ in range(35):
        t.second()
    t.feed({"gnss.speed": 2.9})  # t=35: slow; stationary from t=45
    while t.t < 300:
        t.second()
    assert t.times() == [30, 150, 270]
    t.feed({"gnss.speed": 40.0})  # moving again: the max interval has long elapsed
    assert t.times() == [30, 150, 270, 300]


def test_stationary_begins_exactly_ten_seconds_after_the_speed_fell_under_three(track: Any) -> None:
    t = track({"max_interval": 1, "stationary_interval": 100})
    t.feed(moving(0, speed=30.0))
    for _ in range(10):
        t.second()
    t.h.advance(0.5)
    t.feed({"gnss.speed": 1.0})  # t=10.5: stationary from 20.5
    for _ in range(115):
        t.second()
    assert t.times() == [*range(1, 21), 120]


def test_slow_for_less_than_ten_seconds_is_still_moving(track: Any) -> None:
    t = track({"max_interval": 20, "stationary_interval": 600})
    t.feed(moving(0, speed=2.0))
    for _ in range(9):
        t.second()
    t.feed({"gnss.speed": 3.0})  # at 3 km/h: moving
    for _ in range(12):
        t.second()
    assert t.times() == [20]


def test_ignition_off_is_stationary_at_once(track: Any) -> None:
    t = track({"max_interval": 10})
    t.feed({**moving(0), "io.DI1": 1})
    for _ in range(25):
        t.second()
    t.feed({"io.igt_status": 0, "io.DI1": 1})  # io.igt_status wins over the ignition input
    for _ in range(75):
        t.second()
    assert t.times() == [10, 20]  # stationary_interval 0: silent while parked
    t.feed({"io.igt_status": 1})
    assert t.times() == [10, 20, 100]


def test_without_report_the_interval_applies_and_infos_pass_through(track: Any) -> None:
    t = track(None, interval=7)
    t.feed(moving(0))
    for second in range(1, 22):
        t.second(moving(100.0 * second))
    assert t.times() == [7, 14, 21]


def test_summary_set_report_takes_over_from_the_interval_and_back(tmp_path: Path) -> None:
    device = DeviceConfig.model_validate({"mqtt": {"client_id": "dev1"}})
    with start_agent(tmp_path / "state", device) as h:
        agent = Agent(h)
        agent.feed(moving(0))
        report = {"max_interval": 4, "distance": 500}
        resp = agent.request("summary/set", {"interval": 60, "report": report})
        full = {"max_interval": 4, "min_interval": 0, "distance": 500, "heading": 0, "stationary_interval": 0}
        assert resp["result"] == {"interval": 60, "report": full}
        h.advance(8)
        assert len(agent.infos("summary")) == 2
        agent.wait_retry()
        assert agent.request("summary/set", {"report": None})["result"] == {"report": None}
        h.advance(60)
        assert len(agent.infos("summary")) == 1  # the interval again
        assert "report" not in statefiles.load(tmp_path / "state", statefiles.group_file("summary"), {})


def test_report_errors_name_the_field(tmp_path: Path) -> None:
    device = DeviceConfig.model_validate({"mqtt": {"client_id": "dev1"}})
    with start_agent(tmp_path / "state", device) as h:
        agent = Agent(h)
        cases = [
            ("summary/set", {"report": {"distance": -1}}, "report.distance"),
            ("summary/set", {"report": {"distance": 1.5}}, "report.distance"),
            ("summary/set", {"report": {"speed": 5}}, "report.speed"),
            ("summary/set", {"report": 30}, "report"),
            ("summary/set", {"report": {"max_interval": 5, "min_interval": 10}}, "report.min_interval"),
            ("gnss/set", {"report": {"distance": 100}}, "report"),
            (
                "group/set",
                {"settings": [{"group_name": "g", "interest": {"io.AI1": ""}, "report": []}]},
                "settings[0].report",
            ),
        ]
        for index, (path, body, field) in enumerate(cases):
            resp = agent.request(path, body, token=f"b{index}")
            assert resp["error"] == "invalid_parameter", (path, body)
            assert resp["error_desc"].startswith(field), resp
        assert h.node("group-summary").settings.report is None


def test_custom_group_with_report_is_generated_behind_the_report_node(tmp_path: Path) -> None:
    device = DeviceConfig.model_validate({"mqtt": {"client_id": "dev1"}})
    with start_agent(tmp_path / "state", device) as h:
        agent = Agent(h)
        agent.feed(moving(0))
        entry = {"group_name": "trip", "interval": 0, "interest": {"gnss.latitude": "lat"}, "report": {"distance": 100}}
        full = {"max_interval": 0, "min_interval": 0, "distance": 100, "heading": 0, "stationary_interval": 0}
        assert agent.request("group/set", {"settings": [entry]})["result"] == [{**entry, "report": full}]
        wait_until(lambda: "flexapi-custom-trip" in h.runtime.nodes, what="generated node")
        assert agent.request("group/get")["result"] == [{**entry, "report": full}]
        for second in range(1, 11):
            h.advance(1)
            agent.feed(moving(15.0 * second))
        assert [r["lat"] for r in agent.infos("trip")] == [pytest.approx(north(105))]
        agent.wait_retry()
        assert agent.request("trip/set", {"report": None})["result"] == {"report": None}
        wait_until(lambda: h.node("flexapi-custom-trip").config.report is None, what="redeployed without report")
        assert h.node("flexapi-report").schedules == {}  # type: ignore[attr-defined]


def test_a_summary_wired_straight_to_its_publisher_sends_only_infos(tmp_path: Path) -> None:
    device = DeviceConfig.model_validate({"mqtt": {"client_id": "dev1"}})
    with FlowHarness(state_dir=tmp_path / "state", device=device, clock=FakeClock()) as h:
        h.deploy(
            [
                {"id": "summary", "type": "flexapi group", "group": "summary", "wires": [[], ["out"]]},
                {"id": "out", "type": "helper"},
            ],
            tmp_path,
        )
        h.inject("summary", topic="test", payload={"gnss.latitude": 1.0})
        h.advance(10)
        assert [m["topic"] for m in h.taken("out")] == [INFO]


def test_the_next_report_counts_from_the_position_the_report_carried(track: Any) -> None:
    """The group makes its view when ``report/due`` reaches it: a reading it took in the meantime (that the
    report node has not handled yet) is what the platform got, and what the next distance counts from."""
    t = track({"distance": 200, "max_interval": 10})
    t.feed(moving(0))
    for _ in range(9):
        t.second()
    t.h.inject("summary", topic="test", payload=moving(150))  # the group has it, the report node not yet
    t.second()  # max_interval: the report carries the 150 m position
    assert [r["lat"] for _, r in t.reports] == [pytest.approx(north(150))]
    t.second(moving(210))  # 210 m from the start, 60 m from the position reported
    assert t.times() == [10]
