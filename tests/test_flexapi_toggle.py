"""``io/toggle``: set a level, answer, flip back after the delay (fake clock); durable, busy like io/control."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flexapi_support import Agent, FakeIoSource, device_config, start_agent

from flowengine.testing import wait_until
from nodes.flexapi import statefiles


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    h = start_agent(tmp_path / "state", device_config())
    try:
        yield Agent(h)
    finally:
        h.close()


@pytest.fixture
def io(agent: Agent) -> FakeIoSource:
    return agent.h.node("source-io")  # type: ignore[return-value]


def saved(tmp_path: Path) -> dict[str, int]:
    return json.loads((tmp_path / "state" / "flexapi" / statefiles.IO_OUTPUTS).read_text())  # type: ignore[no-any-return]


def test_toggle_sets_answers_and_flips_back_after_exactly_the_delay(agent: Agent, io: FakeIoSource) -> None:
    body = {"io.DO1": 1, "io.DO1_toggle_ms": 500}
    assert agent.request("io/toggle", body) == {"client_token": "t1", "result": body}
    assert io.applied == [{"io.DO1": 1}]
    agent.h.advance(0.499)
    assert io.applied == [{"io.DO1": 1}]
    agent.h.advance(0.001)
    assert io.applied == [{"io.DO1": 1}, {"io.DO1": 0}]
    agent.h.advance(10.0)
    assert len(io.applied) == 2


def test_toggle_of_several_outputs_and_the_reference_spelling(agent: Agent, io: FakeIoSource) -> None:
    body = {"io.D02": 0, "io.D02_toggle_ms": 2000, "io.DO3": 1, "io.DO3_toggle_ms": 11}
    assert agent.request("io/toggle", body)["result"] == body
    assert io.applied == [{"io.DO2": 0, "io.DO3": 1}]
    agent.h.advance(0.011)
    assert io.applied[1:] == [{"io.DO3": 0}]
    agent.h.advance(2.0)
    assert io.applied[2:] == [{"io.DO2": 1}]


def test_the_level_a_pulse_ends_in_is_saved_before_anything_is_driven(agent: Agent, tmp_path: Path) -> None:
    agent.request("io/toggle", {"io.DO4": 1, "io.DO4_toggle_ms": 60000})
    assert saved(tmp_path) == {"io.DO4": 0}  # a restart during the pulse ends it


def test_a_restart_during_the_pulse_drives_its_end(tmp_path: Path) -> None:
    with start_agent(tmp_path / "state", device_config()) as h:
        Agent(h).request("io/toggle", {"io.DO1": 1, "io.DO1_toggle_ms": 60000})
    with start_agent(tmp_path / "state", device_config()) as h:
        io: FakeIoSource = h.node("source-io")  # type: ignore[assignment]
        wait_until(lambda: io.applied == [{"io.DO1": 0}], what="end of the pulse driven at start")


def test_closing_the_node_cancels_its_pending_flip(agent: Agent, io: FakeIoSource) -> None:
    agent.request("io/toggle", {"io.DO1": 1, "io.DO1_toggle_ms": 1000})
    agent.h.call(agent.h.runtime.restart(["flexapi-io-control"]))
    agent.h.advance(0.0)
    assert io.applied == [{"io.DO1": 1}, {"io.DO1": 0}]  # the new node drives the saved end at once
    agent.h.advance(5.0)
    assert len(io.applied) == 2  # the old node's flip never fired


def test_toggle_and_control_share_the_five_second_retry_interval(agent: Agent, io: FakeIoSource) -> None:
    assert "result" in agent.request("io/toggle", {"io.DO1": 1, "io.DO1_toggle_ms": 100})
    assert agent.request("io/control", {"io.DO2": 1}, token="c")["error"] == "device_busy"
    assert agent.request("io/toggle", {"io.DO2": 1, "io.DO2_toggle_ms": 100}, token="t")["error"] == "device_busy"
    agent.h.advance(4.999)
    assert agent.request("io/control", {"io.DO2": 1}, token="c2")["error"] == "device_busy"
    agent.h.advance(0.001)
    assert "result" in agent.request("io/control", {"io.DO2": 1}, token="c3")
    agent.h.advance(5.0)
    assert "result" in agent.request("io/toggle", {"io.DO2": 0, "io.DO2_toggle_ms": 100}, token="t2")


def test_a_control_cancels_the_pending_flip_of_its_output(agent: Agent, io: FakeIoSource, tmp_path: Path) -> None:
    agent.request("io/toggle", {"io.DO1": 1, "io.DO1_toggle_ms": 60000})
    agent.h.advance(5.0)
    assert "result" in agent.request("io/control", {"io.DO1": 1, "io.DO2": 1}, token="c")
    agent.h.advance(60.0)
    assert io.applied == [{"io.DO1": 1}, {"io.DO1": 1, "io.DO2": 1}]
    assert saved(tmp_path) == {"io.DO1": 1, "io.DO2": 1}


def test_a_pulse_on_another_output_leaves_a_pending_flip_alone(agent: Agent, io: FakeIoSource) -> None:
    agent.request("io/toggle", {"io.DO1": 1, "io.DO1_toggle_ms": 60000})
    agent.h.advance(5.0)
    agent.request("io/toggle", {"io.DO2": 1, "io.DO2_toggle_ms": 1000}, token="b")
    agent.h.advance(55.0)
    assert io.applied == [{"io.DO1": 1}, {"io.DO2": 1}, {"io.DO2": 0}, {"io.DO1": 0}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "io.DO1..io.DO4"),
        ({"io.DO1": 1}, "io.DO1_toggle_ms: required"),
        ({"io.DO1_toggle_ms": 100}, "io.DO1: required"),
        ({"io.DO1": 1, "io.DO1_toggle_ms": 10}, "io.DO1_toggle_ms"),
        ({"io.DO1": 1, "io.DO1_toggle_ms": 60001}, "io.DO1_toggle_ms"),
        ({"io.DO1": 1, "io.DO1_toggle_ms": 100.5}, "io.DO1_toggle_ms"),
        ({"io.DO1": 1, "io.DO1_toggle_ms": True}, "io.DO1_toggle_ms"),
        ({"io.DO1": 2, "io.DO1_toggle_ms": 100}, "io.DO1"),
        ({"io.DO1_pullup": 1, "io.DO1_pullup_toggle_ms": 100}, "io.DO1_pullup"),
        ({"io.DI1": 1, "io.DI1_toggle_ms": 100}, "io.DI1"),
        ({"io.DO1": 1, "io.D01": 1, "io.DO1_toggle_ms": 100}, "io.D01: the same output"),
    ],
)
def test_bad_toggles_are_refused_naming_the_field(
    agent: Agent, io: FakeIoSource, body: dict[str, object], field: str
) -> None:
    resp = agent.request("io/toggle", body)
    assert resp["error"] == "invalid_parameter" and resp["error_desc"].startswith(field), resp
    assert io.applied == []
    agent.h.advance(1.0)
    assert io.applied == []


def test_hardware_failure_is_device_error_and_changes_nothing(agent: Agent, io: FakeIoSource, tmp_path: Path) -> None:
    io.fail = True
    resp = agent.request("io/toggle", {"io.DO1": 1, "io.DO1_toggle_ms": 100})
    assert resp["error"] == "device_error"
    assert saved(tmp_path) == {}
    io.fail = False
    agent.h.advance(1.0)
    assert io.applied == []
    assert "result" in agent.request("io/toggle", {"io.DO1": 1, "io.DO1_toggle_ms": 100}, token="again")
