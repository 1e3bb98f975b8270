"""The event service on a fake clock: each detector's raise and clear, thresholds and durations, and the notices."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowengine.clock import FakeClock
from flowengine.config import DeviceConfig
from flowengine.testing import FlowHarness
from nodes.flexapi.event_config import EVENTS, parse_events

TOPIC = "v1/dev1/event/notice"
WALL = 1_700_000_000
POSITION = {"gnss.ts": WALL, "gnss.latitude": 48.1, "gnss.longitude": 11.5, "gnss.speed": 0.0}


class Events:
    """``flexapi values`` -> one detector -> ``flexapi event`` -> sink ``out``, on a fake clock."""

    def __init__(self, tmp_path: Path, enabled: dict[str, dict[str, Any]], detector: dict[str, Any]) -> None:
        state = tmp_path / "state"
        EVENTS.save(state, parse_events({name: {"enabled": True, **s} for name, s in enabled.items()}))
        device = DeviceConfig.model_validate({"mqtt": {"client_id": "dev1"}, **self.device_extra})
        self.h = FlowHarness(state_dir=state, device=device, clock=FakeClock(wall_start=WALL))
        self.seen: list[dict[str, Any]] = []
        values = {"id": "values", "type": "flexapi values", "wires": [["event", "det"]]}
        self.h.deploy(
            [
                values,
                {"id": "det", **detector, "wires": [["event"]]},
                {"id": "event", "type": "flexapi event", "wires": [["out"]]},
                {"id": "out", "type": "helper"},
                {"id": "catch", "type": "catch", "scope": ["event"], "wires": [["errors"]]},
                {"id": "errors", "type": "helper"},
            ],
            tmp_path,
        )

    device_extra: dict[str, Any] = {}

    def feed(self, values: dict[str, Any]) -> None:
        self.h.inject("values", topic="test", payload=values)

    def samples(self, payload: Any) -> None:
        self.h.inject("det", topic="motion", payload=payload)

    def notices(self) -> list[dict[str, Any]]:
        taken = self.h.taken("out")
        assert all(m["topic"] == TOPIC for m in taken)
        return [m["payload"] for m in taken]

    def brief(self) -> list[tuple[str, str]]:
        return [(n["type"], n["status"]) for n in self.notices()]

    def close(self) -> None:
        if not self.h.loop.is_closed():
            self.h.close()


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Any]:
    made: list[Events] = []

    def build(detector: dict[str, Any], **enabled: dict[str, Any]) -> Events:
        events = Events(tmp_path, enabled, detector)
        made.append(events)
        return events

    yield build
    for events in made:
        events.close()


# -- DI_CHG --------------------------------------------------------------------------


def test_di_change_raises_on_each_transition_with_the_input_and_a_snapshot(make: Any) -> None:
    ev = make({"type": "flexapi di detector"}, DI_CHG={})
    ev.feed({**POSITION, "gnss.fix": None, "io.DI1": 0, "io.DI2": 1, "io.AI1": 12.5, "obd.rpm": 900})
    assert ev.notices() == []  # the first value of an input is its state, not a transition
    ev.h.advance(3)
    ev.feed({"io.DI2": 0})
    assert ev.notices() == [
        {
            "starts_at": WALL + 3,
            "status": "raise",
            "type": "DI_CHG",
            "level": 1,
            "key": "io.DI2",
            "value": 0,
            **POSITION,
            "io.DI1": 0,
            "io.DI2": 0,
            "io.AI1": 12.5,
        }
    ]
    ev.feed({"io.DI1": 1, "io.DI2": 1})
    assert [(n["key"], n["value"]) for n in ev.notices()] == [("io.DI1", 1), ("io.DI2", 1)]


def test_di_change_keeps_the_last_state_over_an_invalid_value(make: Any) -> None:
    ev = make({"type": "flexapi di detector", "inputs": ["io.DI3"]}, DI_CHG={"level": 2})
    ev.feed({"io.DI3": 1, "io.DI4": 0})
    ev.feed({"io.DI3": None, "io.DI4": 1})
    assert ev.notices() == []
    ev.feed({"io.DI3": 0})
    assert [(n["key"], n["level"]) for n in ev.notices()] == [("io.DI3", 2)]
    ev.feed({"io.DI3": 0})  # no change: flexapi values does not even pass it on
    assert ev.notices() == []


def test_a_detector_whose_type_is_not_enabled_stays_quiet_and_says_so(make: Any) -> None:
    ev = make({"type": "flexapi di detector"})
    ev.feed({"io.DI1": 0})
    ev.feed({"io.DI1": 1})
    assert ev.notices() == []
    assert "events.DI_CHG not enabled" in ev.h.node("det").last_status["text"]


# -- IGON / IGOFF ----------------------------------------------------------------------


def test_ignition_from_igt_status(make: Any) -> None:
    ev = make({"type": "flexapi ignition detector"}, IGON={}, IGOFF={"level": 2})
    ev.feed({"io.igt_status": 0, "io.DI1": 1})
    ev.feed({"io.igt_status": 1})
    ev.feed({"io.DI1": 0})  # the input does not count while igt_status is known
    ev.feed({"io.igt_status": 0})
    notices = ev.notices()
    assert [(n["type"], n["level"]) for n in notices] == [("IGON", 1), ("IGOFF", 2)]
    assert notices[0]["io.igt_status"] == 1


def test_ignition_falls_back_to_the_ignition_input(make: Any) -> None:
    ev = make({"type": "flexapi ignition detector", "ignition_key": "io.DI2"}, IGON={}, IGOFF={})
    ev.feed({"io.DI2": 1})
    ev.feed({"io.DI2": 0})
    ev.feed({"io.DI2": None})
    ev.feed({"io.DI2": 1})
    assert ev.brief() == [("IGOFF", "raise"), ("IGON", "raise")]


def test_only_the_enabled_ignition_type_is_raised(make: Any) -> None:
    ev = make({"type": "flexapi ignition detector"}, IGOFF={})
    ev.feed({"io.igt_status": 1})
    ev.feed({"io.igt_status": 0})
    ev.feed({"io.igt_status": 1})
    assert ev.brief() == [("IGOFF", "raise")]


# -- OVERSPEED ---------------------------------------------------------------------------


def test_overspeed_raises_after_the_duration_and_clears_when_back_under(make: Any) -> None:
    ev = make({"type": "flexapi overspeed detector"}, OVERSPEED={"speed": 100, "duration": 5})
    ev.feed({**POSITION, "gnss.speed": 100.0})  # at the limit is not over it
    ev.h.advance(1)
    ev.feed({"gnss.speed": 104.0})
    ev.h.advance(4.999)
    assert ev.notices() == []
    ev.h.advance(0.001)
    [raised] = ev.notices()
    assert raised["starts_at"] == WALL + 6
    assert (raised["status"], raised["level"], raised["speed_limit"], raised["speed"]) == ("raise", 2, 100, 104.0)
    assert raised["gnss.speed"] == 104.0
    ev.feed({"gnss.speed": 131.0})
    ev.h.advance(10)
    assert ev.notices() == []
    ev.feed({"gnss.speed": 99.0})
    [cleared] = ev.notices()
    assert cleared["starts_at"] == WALL + 6 and cleared["ends_at"] == WALL + 16
    assert (cleared["status"], cleared["max_speed"]) == ("clear", 131.0)
    assert "speed" not in cleared


def test_overspeed_dip_under_the_limit_restarts_the_count(make: Any) -> None:
    ev = make({"type": "flexapi overspeed detector", "speed_key": "obd.speed"}, OVERSPEED={"speed": 80, "duration": 3})
    ev.feed({"obd.speed": 90})
    ev.h.advance(2)
    ev.feed({"obd.speed": 80})
    ev.feed({"obd.speed": 85})
    ev.h.advance(2.999)
    assert ev.notices() == []
    ev.h.advance(0.001)
    assert ev.brief() == [("OVERSPEED", "raise")]


def test_overspeed_invalid_speed_stops_the_count_but_never_clears(make: Any) -> None:
    ev = make({"type": "flexapi overspeed detector"}, OVERSPEED={"speed": 50, "duration": 0})
    ev.feed({"gnss.speed": None})
    ev.feed({"gnss.speed": 60.0})
    assert ev.brief() == [("OVERSPEED", "raise")]  # duration 0: at once
    ev.feed({"gnss.speed": None})
    ev.h.advance(60)
    assert ev.notices() == []
    ev.feed({"gnss.speed": 40.0})
    assert ev.brief() == [("OVERSPEED", "clear")]


# -- HARSH_ACCELERATION, HARSH_BRAKING, COLLISION ----------------------------------------


def drive(ev: Events, ax: list[float], ay: float = 0.0) -> list[float]:
    """One sample every 0.1 s; the times (since the first) at which a notice arrived (kept in ``ev.seen``)."""
    times = []
    for index, value in enumerate(ax):
        if index:
            ev.h.advance(0.1)
        ev.samples({"motion.ax": value, "motion.ay": ay, "motion.az": 1.0})
        if notices := ev.notices():
            ev.seen += notices
            times.append(round(index * 0.1, 3))
    return times


def test_harsh_braking_needs_the_threshold_for_the_duration(make: Any) -> None:
    ev = make({"type": "flexapi motion detector", "event": "HARSH_BRAKING"}, HARSH_BRAKING={"threshold": 0.5})
    assert drive(ev, [0.9, 0.9, 0.9, 0.9, 0.9]) == []  # speeding up is not braking
    assert drive(ev, [-0.6, -0.7, -0.4, -0.5, -0.6, -0.55, -0.9, -0.8, -0.2]) == [0.6]  # 0.3 s from the 4th sample


def test_harsh_braking_notice_carries_the_peak_and_a_motion_snapshot(make: Any) -> None:
    ev = make({"type": "flexapi motion detector", "event": "HARSH_BRAKING"}, HARSH_BRAKING={"duration": 0.2})
    ev.feed({**POSITION, "motion.ax": -0.1, "motion.ay": 0.0, "obd.speed": 60})
    assert drive(ev, [-0.7, -0.9, -0.6]) == [0.2]
    [payload] = ev.seen
    assert (payload["type"], payload["level"], payload["value"], payload["threshold"]) == ("HARSH_BRAKING", 2, 0.9, 0.5)
    assert (payload["obd.speed"], payload["gnss.latitude"]) == (60, 48.1)
    # the sample that raised it, not the older reading
    assert (payload["motion.ax"], payload["motion.ay"], payload["motion.az"]) == (-0.6, 0.0, 1.0)


def test_harsh_acceleration_is_positive_and_fires_once_per_excursion(make: Any) -> None:
    ev = make(
        {"type": "flexapi motion detector", "event": "HARSH_ACCELERATION"},
        HARSH_ACCELERATION={"threshold": 0.3, "duration": 0.1},
    )
    assert drive(ev, [-0.8, -0.8, 0.3, 0.35, 0.4, 0.4, 0.1, 0.5, 0.5]) == [0.3, 0.8]


def test_collision_measures_the_horizontal_magnitude_at_once(make: Any) -> None:
    ev = make({"type": "flexapi motion detector", "event": "COLLISION"}, COLLISION={"threshold": 2.5})
    assert drive(ev, [1.4], ay=2.0) == []  # |(1.4, 2.0)| = 2.44
    assert drive(ev, [-1.5], ay=2.0) == [0.0]  # 2.5: at the threshold
    assert [(n["type"], n["level"], n["value"]) for n in ev.seen] == [("COLLISION", 5, 2.5)]


def test_samples_may_come_in_lists_and_without_prefix(make: Any) -> None:
    ev = make({"type": "flexapi motion detector", "event": "COLLISION"}, COLLISION={"threshold": 2.0})
    ev.samples([{"ax": 0.1, "ay": 0.1}, {"ax": 2.1, "ay": 0.0}])
    [notice] = ev.notices()
    assert (notice["type"], notice["level"], notice["value"]) == ("COLLISION", 5, 2.1)


def test_a_block_of_samples_is_timed_by_the_samples_own_times(make: Any) -> None:
    """A buffered IMU delivers a second of samples at once: the duration is counted on ``motion.t``."""
    ev = make({"type": "flexapi motion detector", "event": "HARSH_BRAKING"}, HARSH_BRAKING={"duration": 0.3})
    short = [{"motion.t": WALL + n / 10, "motion.ax": -0.8, "motion.ay": 0.0} for n in range(3)]
    ev.samples([*short, {"motion.t": WALL + 0.3, "motion.ax": 0.0, "motion.ay": 0.0}])
    assert ev.notices() == []  # 0.2 s over the threshold, though all arrived in one instant
    ev.samples([{"motion.t": WALL + 1 + n / 10, "motion.ax": -0.8, "motion.ay": 0.0} for n in range(4)])
    [notice] = ev.notices()
    assert notice["type"] == "HARSH_BRAKING"


def test_motion_detectors_want_samples_only_while_enabled(make: Any) -> None:
    on = make({"type": "flexapi motion detector", "event": "HARSH_BRAKING"}, HARSH_BRAKING={})
    assert on.h.node("det").samples_wanted() == 10.0  # type: ignore[attr-defined]
    off = make({"type": "flexapi motion detector", "event": "HARSH_ACCELERATION"}, HARSH_BRAKING={})
    assert off.h.node("det").samples_wanted() == 0.0  # type: ignore[attr-defined]
    drive(off, [0.9, 0.9, 0.9, 0.9, 0.9])
    assert off.notices() == []


# -- IDLE ------------------------------------------------------------------------------


def test_idle_raises_after_the_duration_standing_with_the_engine_on_and_clears_when_moving(make: Any) -> None:
    ev = make({"type": "flexapi idle detector"}, IDLE={"duration": 120})
    ev.feed({"obd.rpm": 0.0, "gnss.speed": 0.4})
    ev.h.advance(30)
    ev.feed({"obd.rpm": 780.0})  # engine on, standing: idling from now
    ev.h.advance(119.999)
    assert ev.notices() == []
    ev.h.advance(0.001)
    [raised] = ev.notices()
    assert (raised["type"], raised["status"], raised["level"], raised["idle_seconds"]) == ("IDLE", "raise", 1, 120)
    assert raised["starts_at"] == WALL + 150 and raised["obd.rpm"] == 780.0
    ev.h.advance(30)
    ev.feed({"gnss.speed": 12.0})
    [cleared] = ev.notices()
    assert (cleared["status"], cleared["idle_seconds"], cleared["ends_at"]) == ("clear", 150, WALL + 180)


def test_idle_ends_when_the_engine_stops_and_a_short_stop_raises_nothing(make: Any) -> None:
    ev = make({"type": "flexapi idle detector"}, IDLE={"duration": 60})
    ev.feed({"obd.rpm": 800.0, "gnss.speed": 0.9})  # under 1 km/h: standing
    ev.h.advance(59)
    ev.feed({"gnss.speed": 1.0})
    ev.h.advance(120)
    assert ev.notices() == []
    ev.feed({"gnss.speed": 0.0})
    ev.h.advance(60)
    ev.feed({"obd.rpm": 0.0})
    assert ev.brief() == [("IDLE", "raise"), ("IDLE", "clear")]


def test_idle_uses_the_ignition_while_rpm_is_unknown(make: Any) -> None:
    ev = make({"type": "flexapi idle detector", "speed_key": "obd.speed"}, IDLE={"duration": 10})
    ev.feed({"obd.speed": 0, "io.DI1": 1})
    ev.h.advance(10)
    ev.feed({"io.igt_status": 0})  # igt_status, once known, wins over the input
    assert ev.brief() == [("IDLE", "raise"), ("IDLE", "clear")]


# -- OBDII_DTC_<code> -----------------------------------------------------------------------


def dtc(ev: Events, *codes: str) -> None:
    desc = {"P0301": "Cylinder 1 misfire detected", "P0420": "Catalyst efficiency below threshold"}
    ev.h.inject("det", topic="obd/dtc", payload={"codes": list(codes), "desc": desc})


def test_each_new_trouble_code_is_raised_once_even_across_a_restart(make: Any) -> None:
    ev = make({"type": "flexapi dtc detector"}, OBDII_DTC={})
    dtc(ev)
    dtc(ev, "P0301")
    [notice] = ev.notices()
    assert {k: notice[k] for k in ("type", "status", "level", "dtc", "desc")} == {
        "type": "OBDII_DTC_P0301",
        "status": "raise",
        "level": 3,
        "dtc": "P0301",
        "desc": "Cylinder 1 misfire detected",
    }
    dtc(ev, "P0301", "P0420", "U1234")
    assert [n["type"] for n in ev.notices()] == ["OBDII_DTC_P0420", "OBDII_DTC_U1234"]
    assert ev.notices() == []
    ev.close()
    again = make({"type": "flexapi dtc detector"}, OBDII_DTC={})
    dtc(again, "P0301", "P0420", "U1234")
    assert again.notices() == []
    dtc(again, "P0420")
    dtc(again, "P0420", "P0301")  # gone, then back: a new appearance
    assert [(n["type"], n["desc"]) for n in again.notices()] == [("OBDII_DTC_P0301", "Cylinder 1 misfire detected")]


def test_dtc_detector_ignores_other_messages_and_bad_codes(make: Any) -> None:
    ev = make({"type": "flexapi dtc detector"}, OBDII_DTC={})
    ev.h.inject("det", topic="obd", payload={"codes": ["P0301"]})
    ev.h.inject("det", topic="obd/dtc", payload={"codes": "P0301"})
    ev.h.inject("det", topic="obd/dtc", payload={"codes": ["P 0301", 7, "C0035"]})
    assert [(n["type"], n["desc"]) for n in ev.notices()] == [("OBDII_DTC_C0035", "")]


# -- the event node ------------------------------------------------------------------------


def test_a_user_event_raises_and_clears_with_its_fields_and_snapshot(make: Any) -> None:
    ev = make({"type": "flexapi di detector"})
    ev.feed({**POSITION, "io.DI3": 1, "obd.rpm": 700.0})
    raise_door = {"type": "DOOR_OPEN", "level": 2, "door": "rear", "snapshot": ["gnss.latitude", "io.DI*"]}
    ev.h.inject("event", topic="event", payload=raise_door)
    ev.h.advance(42)
    ev.h.inject("event", topic="event", payload={"type": "DOOR_OPEN", "status": "clear", "level": 2})
    assert ev.notices() == [
        {
            "starts_at": WALL,
            "status": "raise",
            "type": "DOOR_OPEN",
            "level": 2,
            "door": "rear",
            "gnss.latitude": 48.1,
            "io.DI3": 1,
        },
        {
            "starts_at": WALL,
            "ends_at": WALL + 42,
            "status": "clear",
            "type": "DOOR_OPEN",
            "level": 2,
            **POSITION,
        },
    ]


def test_a_clear_of_an_event_that_is_not_raised_is_dropped(make: Any) -> None:
    ev = make({"type": "flexapi di detector"})
    ev.h.inject("event", topic="event", payload={"type": "DOOR_OPEN", "status": "clear"})
    ev.h.inject("event", topic="event", payload={"type": "DI_CHG", "key": "io.DI1", "value": 1})
    ev.h.inject("event", topic="event", payload={"type": "DI_CHG", "status": "clear"})  # DI_CHG never clears
    assert ev.brief() == [("DI_CHG", "raise")]


def test_invalid_event_messages_are_errors_naming_the_field(make: Any) -> None:
    ev = make({"type": "flexapi di detector"})
    bad = [
        ("not an object", "payload"),
        ({"level": 2}, "payload.type"),
        ({"type": "door open"}, "payload.type"),
        ({"type": "DOOR", "status": "open"}, "payload.status"),
        ({"type": "DOOR", "level": 6}, "payload.level"),
        ({"type": "DOOR", "level": True}, "payload.level"),
        ({"type": "DOOR", "snapshot": "gnss.*"}, "payload.snapshot"),
        ({"type": "DOOR", "gnss.latitude": 1}, "payload.gnss.latitude"),
        ({"type": "DOOR", "blob": b"\x00"}, "payload"),
    ]
    for payload, field in bad:
        ev.h.inject("event", topic="event", payload=payload)
        error = ev.h.one("errors")["error"]["message"]
        assert error.startswith(f"event: {field}"), (payload, error)
    assert ev.notices() == []


def test_include_invalid_puts_invalid_snapshot_values_as_null(make: Any) -> None:
    Events.device_extra = {"flexapi": {"include_invalid": True}}
    try:
        ev = make({"type": "flexapi di detector"})
    finally:
        Events.device_extra = {}
    ev.feed({"gnss.latitude": 48.1, "gnss.fix": None})
    ev.h.inject("event", topic="event", payload={"type": "PANIC", "level": 5})
    [notice] = ev.notices()
    assert (notice["gnss.latitude"], notice["gnss.fix"], notice["level"]) == (48.1, None, 5)
