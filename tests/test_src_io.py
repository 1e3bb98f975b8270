"""The io source through gpiozero's MockFactory pins and a mock MCP3xxx on the SPI pins."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from flowengine.config import DeviceConfig
from flowengine.errors import DeviceIOError, FlowConfigError
from flowengine.testing import FlowHarness, wait_until
from nodes.sources.io import node as io_node
from nodes.sources.io.board import IoBoard, output_changes, volts
from nodes.sources.io.node import IoSource
from nodes.sources.io.settings import IoSettings
from nodes.sources.io.sim_board import SimIoHardware
from nodes.sources.sim.commands import Wiring, parse_commands
from nodes.sources.sim.vehicle import Vehicle

LOW_OUTPUTS = {(n, kind): 0 for n in range(1, 5) for kind in ("value", "pullup")}


@pytest.fixture
def rig() -> Iterator[tuple[SimIoHardware, IoBoard]]:
    sim = SimIoHardware(IoSettings())
    board = IoBoard(sim.settings, sim.factory, LOW_OUTPUTS)
    yield sim, board
    board.close()


def test_inputs_follow_the_pins(rig: tuple[SimIoHardware, IoBoard]) -> None:
    sim, board = rig
    assert board.read()["io.DI3"] == 1  # pulled up, nothing connected
    sim.drive_input(3, False)
    sim.drive_input(1, True)
    values = board.read()
    assert (values["io.DI1"], values["io.DI3"], values["io.DI3_pullup"]) == (1, 0, 1)


def test_pull_down_inputs_read_low_and_say_so() -> None:
    settings = IoSettings(di=[{"pin": "GPIO5", "pullup": False}])
    sim = SimIoHardware(settings)
    board = IoBoard(settings, sim.factory, LOW_OUTPUTS)
    try:
        values = board.read()
    finally:
        board.close()
    assert (values["io.DI1"], values["io.DI1_pullup"], values["io.DI2"]) == (0, 0, None)


@pytest.mark.parametrize(("applied", "reported"), [(0.0, 0.0), (12.6, 12.6), (24.0, 24.0), (35.5, 35.5), (48.0, 36.0)])
def test_analog_inputs_through_the_adc(rig: tuple[SimIoHardware, IoBoard], applied: float, reported: float) -> None:
    sim, board = rig
    sim.set_volts(2, applied)
    assert board.read()["io.AI2"] == pytest.approx(reported, abs=0.01)  # 12-bit steps of 8.9 mV
    assert isinstance(board.read()["io.AI2"], float)


def test_ten_bit_adc_on_other_channels() -> None:
    settings = IoSettings(adc="MCP3008", ai_channels=[7, 6], divider_ratio=10.0)
    sim = SimIoHardware(settings)
    board = IoBoard(settings, sim.factory, LOW_OUTPUTS)
    try:
        sim.set_volts(2, 20.0)
        values = board.read()
    finally:
        board.close()
    assert values["io.AI2"] == pytest.approx(20.0, abs=0.04) and values["io.AI1"] == 0.0 and values["io.AI3"] is None


def test_outputs_and_pullups(rig: tuple[SimIoHardware, IoBoard]) -> None:
    sim, board = rig
    board.apply(output_changes({"io.DO1": 1, "io.DO3_pullup": 1}))
    values = board.read()
    assert (values["io.DO1"], values["io.DO2"], values["io.DO3_pullup"]) == (1, 0, 1)
    assert sim.factory.pin("GPIO20").state and sim.factory.pin("GPIO26").state


def test_output_keys_and_alias() -> None:
    assert output_changes({"io.D01": 1, "io.DO4_pullup": 0, "io.DO2": True}) == {
        (1, "value"): 1,
        (4, "pullup"): 0,
        (2, "value"): 1,
    }
    for bad in ({"io.DO5": 1}, {"io.DI1": 1}, {"io.DO1": 2}, {"io.DO1": 0.5}, {"io.DO1": "1"}):
        with pytest.raises(ValueError, match=re.escape(next(iter(bad)))):
            output_changes(bad)


def test_output_without_pullup_pin_cannot_switch_it() -> None:
    settings = IoSettings(do=[{"pin": "GPIO20", "initial_pullup": 1}])
    sim = SimIoHardware(settings)
    board = IoBoard(settings, sim.factory, {(1, "value"): 0, (1, "pullup"): 1})
    try:
        assert board.read()["io.DO1_pullup"] == 1
        with pytest.raises(DeviceIOError, match=r"io\.DO1_pullup"):
            board.apply({(1, "pullup"): 0})
        with pytest.raises(DeviceIOError, match=r"io\.DO2"):
            board.apply({(2, "value"): 1})
    finally:
        board.close()


def test_gpio_failure_is_a_device_error(rig: tuple[SimIoHardware, IoBoard]) -> None:
    sim, board = rig
    sim.unplug()
    with pytest.raises(DeviceIOError, match="reading the IO board failed"):
        board.read()
    with pytest.raises(DeviceIOError, match="setting outputs failed"):
        board.apply({(1, "value"): 1})


def test_volts_clamp_to_the_reference_range() -> None:
    settings = IoSettings()
    assert volts(-0.1, settings) == 0.0 and volts(1.0, settings) == 36.0


def test_adc_channels_must_exist() -> None:
    with pytest.raises(ValueError, match="ai_channels"):
        IoSettings(adc="MCP3004", ai_channels=[4])


# -- the node ---------------------------------------------------------------------------------


@pytest.fixture
def io() -> Iterator[FlowHarness]:
    h = FlowHarness(device=DeviceConfig(simulate=True))
    source = {"id": "io", "type": "io source", "interval": 0.05, "wires": [["out"]]}
    h.deploy([source, {"id": "out", "type": "helper", "wires": []}])
    yield h
    h.close()


def test_node_publishes_every_key_with_vehicle_levels(io: FlowHarness) -> None:
    payload = io.one("out")["payload"]
    state = io.runtime.services.get(Vehicle).state()
    assert set(payload) == {*IoSource.keys, "io.ts"}
    assert payload["io.DI1"] == int(state.ignition)
    assert 9.0 < payload["io.AI1"] < 15.0  # the vehicle's battery through the divider and ADC


def test_apply_outputs_drives_pins_and_publishes(io: FlowHarness) -> None:
    io.one("out")
    outputs = io.node("io")
    io.call(outputs.apply_outputs({"io.DO2": 1, "io.D04_pullup": 1}))
    payload = io.first_payload("out", lambda p: p["io.DO2"] == 1)
    assert payload["io.DO4_pullup"] == 1 and payload["io.DO1"] == 0


def test_apply_outputs_fails_loudly_when_hardware_fails(io: FlowHarness) -> None:
    io.one("out")
    outputs = io.node("io")
    io.node("io").sim.unplug()
    with pytest.raises(DeviceIOError):
        io.call(outputs.apply_outputs({"io.DO1": 1}))
    wait_until(lambda: io.node("io").board is None, what="the board to be released")
    with pytest.raises(DeviceIOError, match="not open"):
        io.call(outputs.apply_outputs({"io.DO1": 1}))


def test_gpio_failure_invalidates_then_recovers_with_outputs_kept(io: FlowHarness) -> None:
    io.one("out")
    io.call(io.node("io").apply_outputs({"io.DO3": 1}))
    io.node("io").sim.unplug()
    invalid = io.first_payload("out", lambda p: p["io.DI1"] is None)
    assert all(invalid[k] is None for k in IoSource.keys)
    io.node("io").sim.unplug(False)
    back = io.first_payload("out", lambda p: p["io.DI1"] is not None)
    assert back["io.DO3"] == 1  # what was commanded survives the reconnect


def test_outputs_fail_loudly_once_the_node_closed() -> None:
    h = FlowHarness(device=DeviceConfig(simulate=True))
    h.deploy([{"id": "io", "type": "io source", "wires": []}])
    node = h.node("io")
    wait_until(lambda: node.board is not None, what="the board to open")
    h.deploy([])
    try:
        with pytest.raises(DeviceIOError, match="not open"):
            h.call(node.apply_outputs({"io.DO1": 1}))
    finally:
        h.close()


def test_missing_gpio_hardware_retries_without_crashing(caplog: pytest.LogCaptureFixture) -> None:
    h = FlowHarness(device=DeviceConfig(sources={"io": {"pin_factory": "no-such-factory"}}))
    with caplog.at_level("INFO"):  # a first failure is info: the agent's start-up survey warns once for all
        h.deploy(
            [
                {"id": "io", "type": "io source", "backend": "hardware", "wires": [["out"]]},
                {"id": "out", "type": "helper", "wires": []},
            ]
        )
        try:
            payload = h.one("out")["payload"]
        finally:
            h.close()
    assert all(payload[k] is None for k in IoSource.keys)
    assert "no gpiozero pin factory named 'no-such-factory'" in caplog.text


def test_bad_pin_map_names_the_field(caplog: pytest.LogCaptureFixture) -> None:
    h = FlowHarness(device=DeviceConfig(sources={"io": {"do": [{"pin": "GPIO20", "initial": 3}]}}))
    with pytest.raises(FlowConfigError, match=r"sources.io: node io: do.0.initial"):
        h.deploy([{"id": "io", "type": "io source", "wires": []}])
    h.close()


# -- supply voltage and ignition sense (FlexAPI 1.0.9) -----------------------------------------


def test_supply_voltage_on_its_own_adc_channel(rig: tuple[SimIoHardware, IoBoard]) -> None:
    sim, board = rig
    sim.set_channel_volts(7, 24.3)
    sim.set_volts(1, 12.0)
    values = board.read()
    assert values["io.power_input"] == pytest.approx(24.3, abs=0.01) and values["io.AI1"] == pytest.approx(
        12.0, abs=0.01
    )
    assert isinstance(values["io.power_input"], float)


def test_supply_channel_defaults_and_its_absence() -> None:
    assert IoSettings().power_channel == 7
    assert IoSettings(adc="MCP3004", ai_channels=[0, 1]).power_channel == -1  # a 4-channel chip has no channel 7
    with pytest.raises(ValueError, match="power_channel 5 does not exist on a MCP3204"):
        IoSettings(adc="MCP3204", ai_channels=[0], power_channel=5)
    settings = IoSettings(power_channel=-1)
    sim = SimIoHardware(settings)
    board = IoBoard(settings, sim.factory, LOW_OUTPUTS)
    try:
        assert board.read()["io.power_input"] is None
    finally:
        board.close()


@pytest.mark.parametrize(
    ("settings", "drive", "status"),
    [
        ({}, (1, True), 1),
        ({}, (1, False), 0),
        ({"igt_input": 3}, (3, False), 0),
        ({"igt_input": 3, "igt_active_low": True}, (3, False), 1),
        ({"igt_input": 0}, (1, True), None),
    ],
)
def test_ignition_status_is_the_level_of_its_input(settings: dict, drive: tuple[int, bool], status: int | None) -> None:
    io_settings = IoSettings(**settings)
    sim = SimIoHardware(io_settings)
    board = IoBoard(io_settings, sim.factory, LOW_OUTPUTS)
    try:
        sim.drive_input(*drive)
        assert board.read()["io.igt_status"] == status
    finally:
        board.close()


def test_ignition_input_must_exist() -> None:
    with pytest.raises(ValueError, match="igt_input 2: the pin map has 1 digital input"):
        IoSettings(di=[{"pin": "GPIO5"}], igt_input=2)
    assert IoSettings(di=[]).igt_input == 0  # no inputs: no ignition sense unless configured


def test_simulated_harness_wires_ignition_supply_and_set_inputs() -> None:
    vehicle = Vehicle()
    h = FlowHarness(device=DeviceConfig(simulate=True, sources={"io": {"igt_input": 2}}))
    h.runtime.services.provide(Vehicle, vehicle)
    h.deploy([{"id": "io", "type": "io source", "interval": 0.05, "wires": [["out"]]}, {"id": "out", "type": "helper"}])
    try:
        payload = h.one("out")["payload"]
        state = vehicle.state()
        assert payload["io.igt_status"] == payload["io.DI2"] == int(state.ignition) == 1
        assert payload["io.power_input"] == pytest.approx(state.battery_v, abs=0.2)
        vehicle.apply(parse_commands({"io.DI4": 0}, Wiring(ignition_input=2)))
        assert h.first_payload("out", lambda p: p["io.DI4"] == 0)["io.DI3"] == 1
        vehicle.apply(parse_commands({"vehicle.ignition": 0}))
        off = h.first_payload("out", lambda p: p["io.igt_status"] == 0)
        assert off["io.DI2"] == 0 and off["io.power_input"] < 13.0  # the battery without the alternator
    finally:
        h.close()


def test_an_output_command_right_after_start_waits_for_the_board_to_open(monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    opening = io_node._open_board

    def slow_open(*args: Any) -> IoBoard:
        gate.wait(10)  # the board takes its time to open (on the device thread)
        return opening(*args)

    monkeypatch.setattr(io_node, "_open_board", slow_open)
    with FlowHarness(device=DeviceConfig(simulate=True)) as h:
        h.deploy([{"id": "io", "type": "io source", "wires": [["out"]]}, {"id": "out", "type": "helper", "wires": []}])
        node = h.node("io")
        command = asyncio.run_coroutine_threadsafe(node.apply_outputs({"io.DO2": 1}), h.loop)  # type: ignore[attr-defined]
        assert node.board is None and not command.done()  # type: ignore[attr-defined]  # it cannot finish: the gate is shut
        gate.set()
        command.result(10)  # no "board is not open": it waited
        assert node.board is not None  # type: ignore[attr-defined]


def test_an_output_command_fails_at_once_when_the_board_did_not_open() -> None:
    device = DeviceConfig(sources={"io": {"pin_factory": "no-such-factory"}})
    with FlowHarness(device=device) as h:
        h.deploy([{"id": "io", "type": "io source", "backend": "hardware", "wires": []}])
        node = h.node("io")
        wait_until(lambda: node.settled.is_set(), what="the first attempt")  # type: ignore[attr-defined]
        with pytest.raises(DeviceIOError, match="not open"):
            h.call(node.apply_outputs({"io.DO2": 1}), timeout=2)  # type: ignore[attr-defined]
