"""Simulator settings and scenario files are checked completely, and errors name the field (pure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flowengine.cli import build_parser, device_config_from
from flowengine.config import DeviceConfig, load_device_config
from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness
from nodes.sources.settings import source_settings
from nodes.sources.sim.commands import Command, CommandError, Wiring, applied, parse_commands
from nodes.sources.sim.scenario import ScenarioError, load_scenario, parse_scenario
from nodes.sources.sim.vehicle import Vehicle, VehicleSettings


def test_settings_come_back_in_their_normal_form() -> None:
    commands = parse_commands(
        {
            "vehicle.target_speed": 130,
            "vehicle.ignition": 1,
            "vehicle.brake": 0.6,
            "vehicle.stop": 20,
            "obd.dtc": " p0301 ",
            "io.DI2": 0,
        }
    )
    assert commands == [
        Command("vehicle.target_speed", 130.0),
        Command("vehicle.ignition", 1),
        Command("vehicle.brake", 0.6),
        Command("vehicle.stop", 20.0),
        Command("obd.dtc", "P0301"),
        Command("io.DI2", 0),
    ]
    assert parse_commands({"vehicle.target_speed": None, "obd.dtc": "clear"}) == [
        Command("vehicle.target_speed", None),
        Command("obd.dtc", None),
    ]
    assert applied(parse_commands({"obd.dtc": None, "io.DI3": 1})) == {"obd.dtc": "clear", "io.DI3": 1}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "payload: no settings given"),
        ({"vehicle.target_speed": 250}, "vehicle.target_speed: must be between 0 and 200 km/h, got 250"),
        ({"vehicle.target_speed": "fast"}, "vehicle.target_speed: must be a number (km/h), got 'fast'"),
        ({"vehicle.target_speed": True}, "vehicle.target_speed: must be a number"),
        ({"vehicle.ignition": 2}, "vehicle.ignition: must be 0 or 1, got 2"),
        ({"vehicle.ignition": 1.0}, "vehicle.ignition: must be 0 or 1"),
        ({"vehicle.brake": 3}, "vehicle.brake: must be between 0.1 and 1.2 g, got 3"),
        ({"vehicle.stop": 0}, "vehicle.stop: must be between 1 and 3600 s"),
        ({"obd.dtc": "X1234"}, 'obd.dtc: must be a trouble code such as "P0301"'),
        ({"obd.dtc": 301}, "obd.dtc: must be a trouble code"),
        ({"io.DI1": 0}, "io.DI1: wired to the ignition in the simulator: set vehicle.ignition instead"),
        ({"io.DI7": 0}, "io.DI7: the IO board has digital inputs io.DI1..io.DI6"),
        ({"io.DI2": "low"}, "io.DI2: must be 0 or 1, got 'low'"),
        ({"vehicle.speed": 100}, "vehicle.speed: unknown setting (did you mean vehicle.stop?)"),
        ({"vehicle.target_sped": 100}, "vehicle.target_sped: unknown setting (did you mean vehicle.target_speed?)"),
        ({"engine": 1}, "engine: unknown setting (known: vehicle.target_speed"),
    ],
)
def test_bad_settings_name_the_field(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(CommandError) as info:
        parse_commands(settings)
    assert str(info.value).startswith(message)
    assert info.value.field == message.split(":")[0]


def test_one_bad_setting_refuses_the_whole_body() -> None:
    with pytest.raises(CommandError, match=r"vehicle\.brake"):
        parse_commands({"io.DI2": 0, "vehicle.brake": 9})


def test_the_wiring_decides_which_inputs_and_orders_exist() -> None:
    assert parse_commands({"io.DI1": 1}, Wiring(ignition_input=3)) == [Command("io.DI1", 1)]
    with pytest.raises(CommandError, match=r"io\.DI3: wired to the ignition"):
        parse_commands({"io.DI3": 1}, Wiring(ignition_input=3))
    with pytest.raises(CommandError, match=r"io\.DI3: the IO board has digital inputs io\.DI1\.\.io\.DI2"):
        parse_commands({"io.DI3": 1}, Wiring(inputs=2))
    with pytest.raises(CommandError, match=r"vehicle\.brake: the simulated vehicle replays a track"):
        parse_commands({"vehicle.brake": 0.5}, Wiring(track=True))
    assert parse_commands({"obd.dtc": "U0100"}, Wiring(track=True)) == [Command("obd.dtc", "U0100")]


def scenario_file(tmp_path: Path, entries: Any) -> Path:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(entries))
    return path


def test_scenario_entries_are_checked_and_sorted_by_time(tmp_path: Path) -> None:
    path = scenario_file(
        tmp_path,
        [{"at": 60, "set": {"vehicle.brake": 0.6}}, {"at": 5, "set": {"vehicle.target_speed": 130, "io.DI2": 0}}],
    )
    entries = load_scenario(path)
    assert [(e.at, [c.key for c in e.commands]) for e in entries] == [
        (5.0, ["vehicle.target_speed", "io.DI2"]),
        (60.0, ["vehicle.brake"]),
    ]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"at": 1}, 'must be a JSON list of {"at": seconds, "set": {...}} entries'),
        ([5], "entry 1: must be an object"),
        ([{"at": 1, "set": {"io.DI2": 0}}, {"set": {"io.DI2": 1}}], "entry 2: at: must be seconds after the start"),
        ([{"at": -3, "set": {"io.DI2": 0}}], "entry 1: at: must be seconds after the start"),
        ([{"at": 1, "set": {}}], "entry 1 (at 1): set: must be an object of one or more settings"),
        ([{"at": 1, "do": {}}], "entry 1: unknown field 'do' (an entry has at and set)"),
        (
            [{"at": 5, "set": {"vehicle.target_speed": 130}}, {"at": 60, "set": {"vehicle.brake": 3}}],
            "entry 2 (at 60): set.vehicle.brake: must be between 0.1 and 1.2 g, got 3",
        ),
    ],
)
def test_scenario_errors_name_the_entry_and_field(entries: Any, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(entries)
    assert str(info.value).startswith(message)


def test_unreadable_scenario_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("[{")
    with pytest.raises(ScenarioError, match="is not valid JSON"):
        load_scenario(tmp_path / "broken.json")


def test_a_bad_scenario_stops_the_device_config_before_anything_starts(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, [{"at": 2, "set": {"io.DI1": 0}}])
    with pytest.raises(FlowConfigError) as info:
        load_device_config(None, {"sources.vehicle.scenario": str(path)})
    assert "vehicle.scenario: entry 1 (at 2): set.io.DI1: wired to the ignition" in str(info.value)
    # the IO pin map decides: with the ignition on DI3, DI1 is free
    config = load_device_config(None, {"sources.vehicle.scenario": str(path), "sources.io.igt_input": 3})
    assert config.model_extra is not None and "sources" in config.model_extra


def test_the_vehicle_plays_its_scenario_from_the_start(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, [{"at": 30, "set": {"obd.dtc": "P0301"}}, {"at": 10, "set": {"io.DI2": 0}}])
    vehicle = Vehicle(VehicleSettings(scenario=path))
    assert (vehicle.state(9.9).inputs, vehicle.state(9.9).dtcs) == ({}, ())
    assert (vehicle.state(10.1).inputs, vehicle.state(10.1).dtcs) == ({2: 0}, ())
    assert vehicle.state(30.1).dtcs == ("P0301",)


def test_run_scenario_option_sets_the_vehicle_table(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, [{"at": 1, "set": {"io.DI2": 0}}])
    args = build_parser().parse_args(["run", "--simulate", "--scenario", str(path)])
    assert source_settings(device_config_from(args), "vehicle") == {"scenario": str(path)}
    args = build_parser().parse_args(["run", "--simulate"])
    assert source_settings(device_config_from(args), "vehicle") == {}


# -- the sim control node inside a flow --------------------------------------------------------


def sim_control(device: DeviceConfig) -> FlowHarness:
    h = FlowHarness(device=device)
    h.deploy([{"id": "sim", "type": "sim control", "wires": [["out"]]}, {"id": "out", "type": "helper"}])
    return h


def test_without_simulate_the_node_is_inert() -> None:
    with sim_control(DeviceConfig()) as h:
        assert h.node("sim").last_status["text"] == "inert: the device is not simulated"
        h.inject("sim", payload={"io.DI2": 0})
        answer = h.one("out")
        assert answer["payload"]["error"] == "device_error"
        assert h.runtime.services.get(Vehicle) is None  # no vehicle made, nothing subscribed


def test_a_flow_can_drive_the_simulator_through_the_node() -> None:
    with sim_control(DeviceConfig(simulate=True)) as h:
        h.inject("sim", payload={"vehicle.target_speed": 80, "client_token": "t1"})
        answer = h.one("out")
        assert answer["topic"].startswith("sim/") and answer["topic"].endswith("/control/resp")
        assert answer["payload"] == {"client_token": "t1", "result": {"vehicle.target_speed": 80.0}}
        h.inject("sim", payload='{"obd.dtc": "P0300"}')
        assert h.one("out")["payload"] == {"result": {"obd.dtc": "P0300"}}
        h.inject("sim", payload={"obd.dtc": "X"})
        assert h.one("out")["payload"]["error_desc"].startswith("obd.dtc: must be a trouble code")
        vehicle = h.runtime.services.get(Vehicle)
        assert vehicle is not None
        assert [c.key for e in vehicle.timeline for c in e.commands] == ["vehicle.target_speed", "obd.dtc"]
