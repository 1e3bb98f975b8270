"""The example scenario of the simulator control page: shown as it is, valid, and raising the events it promises.

``flows/examples/scenario-harsh-drive.json`` is played by a ``--simulate`` agent over a
real mosquitto at ten times real time, with the ``events`` section of
docs/sources/simulation.md (its durations divided by ten to match), until the ignition
comes back on; the platform must see each event the page's table lists.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from agent_support import Agents, Platform

from flowengine.testing import wait_until
from nodes.flexapi.event_config import EVENTS, parse_events
from nodes.sources.sim.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "flows" / "examples" / "scenario-harsh-drive.json"
PAGE = REPO / "docs" / "sources" / "simulation.md"
SCALE = 10
#: What the page's table promises: phases in time order, the events of one phase in any order.
PHASES = [
    {"HARSH_ACCELERATION raise", "OVERSPEED raise"},
    {"HARSH_BRAKING raise", "COLLISION raise", "OVERSPEED clear"},
    {"DI_CHG io.DI2=0", "OBDII_DTC_P0301 raise", "IDLE raise"},
    {"IDLE clear", "HARSH_ACCELERATION raise", "OVERSPEED raise"},
    {"DI_CHG io.DI2=1"},
    {"IGOFF raise", "DI_CHG io.DI1=0", "OVERSPEED clear"},
    {"IGON raise", "DI_CHG io.DI1=1"},
]


def page_blocks() -> list[str]:
    """The JSON blocks of the page's example section."""
    section = PAGE.read_text().split("### Example: a drive that raises every event type", 1)[1]
    return re.findall(r"```json\n(.*?)```", section, re.DOTALL)


def page_events() -> dict[str, dict[str, object]]:
    return json.loads("{" + page_blocks()[1] + "}")["events"]  # type: ignore[no-any-return]


def test_the_page_shows_the_file_and_the_file_is_a_valid_scenario() -> None:
    assert page_blocks()[0] == SCENARIO.read_text()
    entries = load_scenario(SCENARIO)
    assert [e.at for e in entries] == [5, 60, 75, 85, 205, 220, 260, 280]
    assert parse_events(page_events())  # the events section imports


def in_phases(seen: list[str]) -> bool:
    """Each phase's events come after every event of the phase before (the first such of each)."""
    done = -1
    for phase in PHASES:
        found = [next((i for i in range(done + 1, len(seen)) if seen[i] == event), None) for event in phase]
        if None in found:
            return False
        done = max(i for i in found if i is not None)
    return True


def brief(notice: dict[str, object]) -> str:
    if notice["type"] == "DI_CHG":
        return f"DI_CHG {notice['key']}={notice['value']}"
    return f"{notice['type']} {notice['status']}"


@pytest.mark.broker
@pytest.mark.slow
def test_playing_it_raises_the_events_the_page_lists(agents: Agents) -> None:
    events = parse_events(page_events())
    for name, settings in events.items():
        if (duration := getattr(settings, "duration", None)) is not None:
            events[name] = settings.model_copy(update={"duration": duration / SCALE})
    EVENTS.save(agents.state_dir, events)
    agents.start(scale=SCALE, vehicle={"scenario": str(SCENARIO)})
    platform: Platform = agents.platform()

    def seen() -> list[str]:
        return [brief(notice) for notice in platform.payloads("event/notice")]

    wait_until(lambda: PHASES[-1] <= set(seen()), 60, interval=0.1, what="the ignition back on")
    assert in_phases(seen()), seen()
