"""Every event type of the default flow raised (and cleared) by driving the simulator, over a real mosquitto.

One agent for the module: ``--simulate`` with every type enabled in the config file's
``events`` section (short durations, thresholds the simulated drive reaches), sources
reading every second and the vehicle running at twice real time. The tests drive it
through ``sim/{client_id}/control`` like an integrator and read ``event/notice`` like a
platform: each notice must carry status, type, level, ``starts_at`` (and ``ends_at`` on
a clear), the type's own fields and a snapshot of exactly the documented keys
(docs/events.md), holding the values that caused it. The tests run in file order and
each leaves the vehicle driving.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import pytest
from agent_support import Agents, Platform, RunningAgent, drive, has_values, store

from flowengine.testing import Mosquitto, wait_until
from nodes.flexapi.event_config import EVENTS, parse_events

pytestmark = [pytest.mark.broker, pytest.mark.slow]

LIMIT = 50  # km/h
ENABLED = {
    "DI_CHG": {"enabled": True},
    "IGON": {"enabled": True},
    "IGOFF": {"enabled": True},
    "OVERSPEED": {"enabled": True, "speed": LIMIT, "duration": 1},
    # the simulated driver accelerates at 2 m/s² (0.2 g) when ordered to a speed
    "HARSH_ACCELERATION": {"enabled": True, "threshold": 0.15, "duration": 0.3},
    "HARSH_BRAKING": {"enabled": True, "threshold": 0.5, "duration": 0.2},
    "COLLISION": {"enabled": True, "threshold": 1.0, "duration": 0.0},
    "IDLE": {"enabled": True, "duration": 2},
    "OBDII_DTC": {"enabled": True, "level": 4},
}
POSITION = ("gnss.latitude", "gnss.longitude", "gnss.speed", "gnss.heading", "gnss.ts")
#: The snapshot keys of each type, as docs/events.md lists them.
SNAPSHOTS = {
    "DI_CHG": ("gnss.*", "io.*"),
    "IGON": ("gnss.*", "io.*", "obd.odo", "obd.f_lvl", "obd.b_volt"),
    "IGOFF": ("gnss.*", "io.*", "obd.odo", "obd.f_lvl", "obd.b_volt"),
    "OVERSPEED": ("gnss.*", "obd.speed", "obd.rpm"),
    "HARSH_ACCELERATION": ("gnss.*", "motion.*", "obd.speed"),
    "HARSH_BRAKING": ("gnss.*", "motion.*", "obd.speed"),
    "COLLISION": ("gnss.*", "motion.*", "obd.speed"),
    "IDLE": ("gnss.*", "io.igt_status", "obd.rpm", "obd.speed", "obd.c_temp", "obd.f_rate"),
    "OBDII_DTC": ("gnss.*", "obd.dtcs", "obd.mil", "obd.odo", "obd.rpm", "obd.speed", "obd.c_temp", "obd.vin"),
}


class Notices:
    """The ``event/notice`` publications the platform receives, read from a mark on."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.start = 0

    def mark(self) -> int:
        """From now on: later waits only see notices that arrive after this; returns the epoch second."""
        self.start = self.platform.count()
        return int(time.time())

    def since_mark(self) -> list[dict[str, Any]]:
        return self.platform.payloads("event/notice", self.start)

    def wait(self, event_type: str, status: str = "raise", timeout: float = 15.0) -> dict[str, Any]:
        """The first notice of that type and status since the mark."""
        found: list[dict[str, Any]] = []

        def arrived() -> bool:
            found[:] = [n for n in self.since_mark() if (n["type"], n["status"]) == (event_type, status)]
            return bool(found)

        try:
            wait_until(arrived, timeout, interval=0.05, what=f"{event_type} {status}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; since the mark: {self.types()}") from None
        return found[0]

    def types(self) -> list[str]:
        return [f"{n['type']} {n['status']}" for n in self.since_mark()]


@dataclass
class Drive:
    agent: RunningAgent
    sim: Platform
    notices: Notices

    def values(self) -> dict[str, Any]:
        return store(self.agent)

    def until(self, check: Callable[[dict[str, Any]], bool], what: str, timeout: float = 20.0) -> None:
        wait_until(lambda: check(self.values()), timeout, interval=0.05, what=what)


@pytest.fixture(scope="module")
def vehicle(broker: Mosquitto, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drive]:
    agents = Agents(broker, tmp_path_factory.mktemp("events"), f"dev-{uuid.uuid4().hex[:10]}")
    EVENTS.save(agents.state_dir, parse_events(ENABLED))
    try:
        agent = agents.start(scale=2)
        # every snapshot holds the position: drive only once the sources have values
        wait_until(has_values(agent, "gnss", "io", "motion"), 30, what="GNSS, IO and motion values")
        sim, platform = agents.sim(agent), agents.platform()
        yield Drive(agent, sim, Notices(platform))
    finally:
        agents.close()


def check_notice(notice: dict[str, Any], event_type: str, status: str, level: int, since: int) -> None:
    """Status, type, level and times of a notice: a raise not before ``since`` (when its cause was
    sent), a clear's ``ends_at`` neither before that nor before its ``starts_at``."""
    assert (notice["type"], notice["status"], notice["level"]) == (event_type, status, level), notice
    assert isinstance(notice["starts_at"], int)
    if status == "raise":
        assert "ends_at" not in notice
        assert notice["starts_at"] >= since, "raised before its cause"
    else:
        assert isinstance(notice["ends_at"], int) and notice["ends_at"] >= max(since, notice["starts_at"])


def snapshot_of(notice: dict[str, Any], family: str, *required: str) -> dict[str, Any]:
    """The notice's snapshot: only the family's documented keys, the position and ``required`` among them."""
    snap = {k: v for k, v in notice.items() if "." in k}
    stray = [k for k in snap if not any(fnmatchcase(k, p) for p in SNAPSHOTS[family])]
    assert not stray, f"{family}: keys outside its snapshot {stray}"
    missing = [k for k in (*POSITION, *required) if snap.get(k) is None]
    assert not missing, f"{family}: snapshot without {missing}: {notice}"
    return snap


def test_digital_input_changes_raise_di_chg_with_the_inputs(vehicle: Drive) -> None:
    since = vehicle.notices.mark()
    assert drive(vehicle.sim, {"io.DI2": 0}) == {"io.DI2": 0}
    low = vehicle.notices.wait("DI_CHG")
    check_notice(low, "DI_CHG", "raise", 1, since)
    assert (low["key"], low["value"]) == ("io.DI2", 0)
    snap = snapshot_of(low, "DI_CHG", "io.DI2", "io.DI3", "io.igt_status")
    assert (snap["io.DI2"], snap["io.DI3"]) == (0, 1)  # the inputs after the change
    since = vehicle.notices.mark()
    drive(vehicle.sim, {"io.DI2": 1})
    high = vehicle.notices.wait("DI_CHG")
    check_notice(high, "DI_CHG", "raise", 1, since)
    assert (high["key"], high["value"], high["io.DI2"]) == ("io.DI2", 1, 1)
    assert "DI_CHG clear" not in vehicle.notices.types()  # one notice per transition, never cleared


def test_ignition_off_and_on_raise_igoff_and_igon(vehicle: Drive) -> None:
    since = vehicle.notices.mark()
    drive(vehicle.sim, {"vehicle.ignition": 0})
    off = vehicle.notices.wait("IGOFF")
    check_notice(off, "IGOFF", "raise", 1, since)
    snap = snapshot_of(off, "IGOFF", "io.igt_status", "io.DI1", "obd.odo", "obd.f_lvl", "obd.b_volt")
    assert (snap["io.igt_status"], snap["io.DI1"]) == (0, 0)
    since = vehicle.notices.mark()
    drive(vehicle.sim, {"vehicle.ignition": 1})
    on = vehicle.notices.wait("IGON")
    check_notice(on, "IGON", "raise", 1, since)
    snap = snapshot_of(on, "IGON", "io.igt_status", "io.DI1")
    assert (snap["io.igt_status"], snap["io.DI1"]) == (1, 1)
    assert "IGOFF raise" not in vehicle.notices.types()


def test_a_new_trouble_code_raises_obdii_dtc_with_the_obd_values_that_show_it(vehicle: Drive) -> None:
    vehicle.until(lambda v: v.get("obd.rpm") is not None, "the ECU answering")
    since = vehicle.notices.mark()
    drive(vehicle.sim, {"obd.dtc": "P0301"})
    notice = vehicle.notices.wait("OBDII_DTC_P0301")
    check_notice(notice, "OBDII_DTC_P0301", "raise", 4, since)  # the level the config file gives
    assert (notice["dtc"], notice["desc"]) == ("P0301", "Cylinder 1 misfire detected")
    snap = snapshot_of(notice, "OBDII_DTC", "obd.dtcs", "obd.mil", "obd.odo", "obd.rpm", "obd.vin")
    assert (snap["obd.dtcs"], snap["obd.mil"]) == (1, 1)  # the poll that found the code
    since = vehicle.notices.mark()
    drive(vehicle.sim, {"obd.dtc": "P0420"})
    second = vehicle.notices.wait("OBDII_DTC_P0420")
    assert second["obd.dtcs"] == 2 and "OBDII_DTC_P0301 raise" not in vehicle.notices.types()  # once a code
    drive(vehicle.sim, {"obd.dtc": "clear"})
    vehicle.until(lambda v: v.get("obd.dtcs") == 0, "codes cleared")


def test_accelerating_past_the_limit_raises_harsh_acceleration_and_overspeed(vehicle: Drive) -> None:
    drive(vehicle.sim, {"vehicle.target_speed": 20})
    vehicle.until(lambda v: (v.get("gnss.speed") or 99) < 25, "driving under 25 km/h")
    since = vehicle.notices.mark()
    drive(vehicle.sim, {"vehicle.target_speed": 90})
    harsh = vehicle.notices.wait("HARSH_ACCELERATION")
    check_notice(harsh, "HARSH_ACCELERATION", "raise", 2, since)
    assert harsh["threshold"] == 0.15 and harsh["value"] >= 0.15
    snap = snapshot_of(harsh, "HARSH_ACCELERATION", "motion.ax", "motion.ay", "motion.az", "obd.speed")
    assert snap["motion.ax"] > 0  # speeding up
    over = vehicle.notices.wait("OVERSPEED")
    check_notice(over, "OVERSPEED", "raise", 2, since)
    assert over["speed_limit"] == LIMIT and over["speed"] > LIMIT
    snap = snapshot_of(over, "OVERSPEED", "obd.speed", "obd.rpm")
    assert snap["gnss.speed"] > LIMIT and snap["obd.speed"] > LIMIT - 5  # OBD speed is whole km/h, read apart
    assert "OVERSPEED clear" not in vehicle.notices.types()
    vehicle.until(lambda v: (v.get("gnss.speed") or 0) > 85, "at speed")


def test_a_hard_stop_raises_harsh_braking_and_collision_clears_overspeed_then_idles(vehicle: Drive) -> None:
    assert "OVERSPEED clear" not in vehicle.notices.types()  # still raised from the test before
    since = vehicle.notices.mark()
    drive(vehicle.sim, {"vehicle.brake": 1.1, "vehicle.stop": 12})
    braking = vehicle.notices.wait("HARSH_BRAKING")
    check_notice(braking, "HARSH_BRAKING", "raise", 2, since)
    assert braking["threshold"] == 0.5 and braking["value"] >= 0.5
    assert snapshot_of(braking, "HARSH_BRAKING", "motion.ax", "obd.speed")["motion.ax"] < 0
    collision = vehicle.notices.wait("COLLISION")
    check_notice(collision, "COLLISION", "raise", 5, since)
    assert collision["threshold"] == 1.0 and collision["value"] >= 1.0
    snapshot_of(collision, "COLLISION", "motion.ax", "motion.ay", "motion.az")
    cleared = vehicle.notices.wait("OVERSPEED", "clear")
    check_notice(cleared, "OVERSPEED", "clear", 2, since)
    assert cleared["speed_limit"] == LIMIT and cleared["max_speed"] > 85
    idle = vehicle.notices.wait("IDLE", timeout=20)
    check_notice(idle, "IDLE", "raise", 1, since)
    assert idle["idle_seconds"] >= 2
    snap = snapshot_of(idle, "IDLE", "io.igt_status", "obd.rpm", "obd.speed", "obd.c_temp", "obd.f_rate")
    assert snap["obd.rpm"] > 0 and snap["obd.speed"] == 0 and snap["gnss.speed"] < 1
    moving = vehicle.notices.wait("IDLE", "clear", timeout=20)  # drives on after the stop
    check_notice(moving, "IDLE", "clear", 1, since)
    assert moving["starts_at"] == idle["starts_at"] and moving["idle_seconds"] >= idle["idle_seconds"]
