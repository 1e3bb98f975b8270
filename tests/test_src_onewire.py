"""The 1-wire source: codecs on recorded w1_slave files, the driver on a fake sysfs tree."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowengine.config import DeviceConfig
from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness
from nodes.sources.onewire.bus import bus_values, read_bus
from nodes.sources.onewire.codec import W1ReadError, crc8, format_w1_slave, parse_w1_slave, rom_id, scratchpad
from nodes.sources.onewire.node import OneWireSource
from nodes.sources.onewire.sim_bus import CABIN, KEY, OUTSIDE, SimW1Bus
from nodes.sources.sim.vehicle import Vehicle

DATA = Path(__file__).parent / "data" / "w1"


@pytest.mark.parametrize(
    ("name", "celsius"),
    [
        ("ds18b20_23125", 23.12),
        ("ds18b20_23187", 23.19),
        ("ds18b20_17812", 17.81),
        ("ds18b20_21062", 21.06),
        ("ds18b20_power_on_85000", 85.0),
    ],
)
def test_good_readings(name: str, celsius: float) -> None:
    assert parse_w1_slave((DATA / f"{name}.w1_slave").read_text()) == celsius


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("bus_open_crc_no", "CRC"),
        ("bit_error_crc_no", "CRC"),
        ("bus_shorted_zero", "all-zero"),
        ("truncated", "malformed"),
    ],
)
def test_bad_readings_are_refused(name: str, reason: str) -> None:
    with pytest.raises(W1ReadError, match=reason):
        parse_w1_slave((DATA / f"{name}.w1_slave").read_text())


def test_kernel_yes_with_wrong_crc_is_refused() -> None:
    with pytest.raises(W1ReadError, match="CRC"):
        parse_w1_slave("72 01 4b 46 7f ff 0e 10 58 : crc=58 YES\n72 01 4b 46 7f ff 0e 10 58 t=23125\n")


def test_ids_match_the_reference_examples() -> None:
    assert rom_id("28-012029901e79") == "aa012029901e7928"
    assert rom_id("28-012029cf6a83") == "27012029cf6a8328"
    assert rom_id("01-00001b559ae0") == "cc00001b559ae001"
    with pytest.raises(ValueError):
        rom_id("w1_bus_master1")


def test_crc8_of_a_real_scratchpad() -> None:
    assert crc8(bytes.fromhex("72014b467fff0e10")) == 0x57


@pytest.mark.parametrize("celsius", [-40.0, -10.5, 0.0, 0.0625, 21.5, 85.0, 125.0])
def test_scratchpad_round_trip(celsius: float) -> None:
    assert parse_w1_slave(format_w1_slave(scratchpad(celsius))) == round(celsius, 2)


# -- the bus reader on a fake tree -----------------------------------------------------------


@pytest.fixture
def bus(tmp_path: Path) -> SimW1Bus:
    return SimW1Bus(tmp_path, Vehicle().state).build()


def test_bus_values_in_reference_shape(bus: SimW1Bus) -> None:
    names = {"aa012029901e7928": "Inside", OUTSIDE: "Outside"}  # by id or by sysfs name
    values = bus_values(read_bus(bus.devices, frozenset({"01"})), names)
    assert values["1-wire.status"] == "Connected" and values["1-wire.type"] == "Temperature & ROM Code"
    assert (values["1-wire.temp_num"], values["1-wire.rom_num"]) == (2, 1)
    assert values["1-wire.temp1_id"] == "aa012029901e7928" and values["1-wire.temp1_name"] == "Inside"
    assert values["1-wire.temp2_id"] == "27012029cf6a8328" and values["1-wire.temp2_name"] == "Outside"
    assert values["1-wire.rom_code1"] == "cc00001b559ae001" and values["1-wire.rom_code2"] is None
    assert isinstance(values["1-wire.temp1_data"], float) and values["1-wire.temp3_id"] is None


def test_configured_order_wins(bus: SimW1Bus) -> None:
    values = bus_values(read_bus(bus.devices, frozenset({"01"})), {"27012029cf6a8328": "Outside"})
    assert values["1-wire.temp1_name"] == "Outside" and values["1-wire.temp2_name"] is None


def test_crc_error_spoils_only_that_sensor(bus: SimW1Bus) -> None:
    bus.corrupt(CABIN)
    bus.update()
    values = bus_values(read_bus(bus.devices, frozenset({"01"})), {})  # unnamed: ordered by id
    assert values["1-wire.temp2_id"] == "aa012029901e7928" and values["1-wire.temp2_data"] is None
    assert values["1-wire.temp1_id"] == "27012029cf6a8328" and values["1-wire.temp1_data"] is not None


def test_only_rom_codes(bus: SimW1Bus) -> None:
    bus.remove(CABIN)
    bus.remove(OUTSIDE)
    values = bus_values(read_bus(bus.devices, frozenset({"01"})), {})
    assert (values["1-wire.type"], values["1-wire.temp_num"], values["1-wire.rom_num"]) == ("ROM Code", 0, 1)


def test_empty_bus_is_disconnected(bus: SimW1Bus) -> None:
    for name in (CABIN, OUTSIDE, KEY):
        bus.remove(name)
    values = bus_values(read_bus(bus.devices, frozenset({"01"})), {})
    assert values["1-wire.status"] == "Disconnected" and values["1-wire.type"] is None


# -- the node ---------------------------------------------------------------------------------


@pytest.fixture
def node(bus: SimW1Bus) -> Iterator[FlowHarness]:
    device = DeviceConfig(sources={"1-wire": {"devices_dir": str(bus.devices), "names": {CABIN: "Cabin"}}})
    h = FlowHarness(device=device)
    source = {"id": "w1", "type": "1-wire source", "backend": "hardware", "interval": 0.05, "wires": [["out"]]}
    h.deploy([source, {"id": "out", "type": "helper", "wires": []}])
    yield h
    h.close()


def test_node_publishes_every_key(node: FlowHarness) -> None:
    payload = node.one("out")["payload"]
    assert set(payload) == {*OneWireSource.keys, "1-wire.ts"}
    assert payload["1-wire.temp1_name"] == "Cabin" and payload["1-wire.temp_num"] == 2


def test_sensor_vanishing_and_returning(node: FlowHarness, bus: SimW1Bus) -> None:
    node.one("out")
    saved = bus.devices.parent / "saved"
    shutil.copytree(bus.devices / OUTSIDE, saved)
    bus.remove(OUTSIDE)
    gone = node.first_payload("out", lambda p: p["1-wire.temp_num"] == 1)
    assert gone["1-wire.temp2_id"] is None and gone["1-wire.temp1_data"] is not None
    shutil.copytree(saved, bus.devices / OUTSIDE)
    back = node.first_payload("out", lambda p: p["1-wire.temp_num"] == 2)
    assert back["1-wire.temp2_id"] == "27012029cf6a8328" and back["1-wire.temp2_data"] is not None


def test_bus_gone_makes_everything_invalid_then_recovers(node: FlowHarness, bus: SimW1Bus) -> None:
    node.one("out")
    bus.remove()
    invalid = node.first_payload("out", lambda p: p["1-wire.status"] is None)
    assert all(invalid[k] is None for k in OneWireSource.keys)
    bus.build()
    back = node.first_payload("out", lambda p: p["1-wire.status"] == "Connected")
    assert back["1-wire.temp1_id"] == "aa012029901e7928"


def test_simulated_bus_follows_the_vehicle() -> None:
    h = FlowHarness()
    h.deploy(
        [
            {"id": "w1", "type": "1-wire source", "backend": "simulated", "interval": 0.05, "wires": [["out"]]},
            {"id": "out", "type": "helper", "wires": []},
        ]
    )
    try:
        payload = h.one("out")["payload"]
        ambient = h.runtime.services.get(Vehicle).state().ambient_c
    finally:
        h.close()
    assert payload["1-wire.temp2_name"] == "Outside" and abs(payload["1-wire.temp2_data"] - ambient) < 0.2
    assert payload["1-wire.rom_code1"] == "cc00001b559ae001"


def test_bad_family_setting_names_the_field(caplog: pytest.LogCaptureFixture) -> None:
    h = FlowHarness(device=DeviceConfig(sources={"1-wire": {"rom_families": ["zz"]}}))
    with pytest.raises(FlowConfigError, match=r"sources.1-wire: node w1: rom_families.0"):
        h.deploy([{"id": "w1", "type": "1-wire source", "wires": []}])
    h.close()
