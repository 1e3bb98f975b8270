"""OBD source through python-can's virtual bus: simulated ECU, silent bus, garbage frames, recovery."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import can

from flowengine.config import DeviceConfig
from flowengine.testing import FlowHarness
from nodes.sources.obd.pids import KEYS
from nodes.sources.sim.ecu import SimulatedEcu
from nodes.sources.sim.vehicle import Vehicle


def run_obd(device: DeviceConfig, **config: Any) -> FlowHarness:
    h = FlowHarness(services={"device": device})
    node = {"id": "obd", "type": "obd source", "interval": 0.1, "wires": [["out"]], **config}
    h.deploy([node, {"id": "out", "type": "helper", "wires": []}])
    return h


def wait_payload(h: FlowHarness, check: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        payload = h.one("out", timeout=max(0.01, deadline - time.monotonic()))["payload"]
        if check(payload):
            return payload
    raise AssertionError("no matching payload")


def valid(payload: dict[str, Any]) -> bool:
    return payload.get("obd.rpm") is not None


def invalid(payload: dict[str, Any]) -> bool:
    return all(payload[k] is None for k in KEYS) and "obd.ts" not in payload


def hardware(channel: str) -> DeviceConfig:
    return DeviceConfig(sources={"obd": {"interface": "virtual", "channel": channel, "timeout_s": 0.05}})


def test_simulated_ecu_fills_every_supported_key_with_appendix_types() -> None:
    with run_obd(DeviceConfig(simulate=True)) as h:
        payload = wait_payload(h, lambda p: valid(p) and p["obd.vin"] is not None)
        assert len(payload["obd.vin"]) == 17
        assert isinstance(payload["obd.ts"], int)
        for key in ("obd.c_temp", "obd.speed", "obd.dtcs", "obd.mil", "obd.odo", "obd.up_time", "obd.r_torque"):
            assert payload[key] is not None, key
        assert type(payload["obd.rpm"]) is float and type(payload["obd.speed"]) is int
        assert payload["obd.mil"] in (0, 1) and type(payload["obd.mil"]) is int
        assert payload["obd.d_e_f_vol"] is None  # a petrol car has no DEF PID
        assert payload["obd.brake"] is None  # no J1979 PID


def test_ecu_goes_silent_then_answers_again() -> None:
    vehicle = Vehicle()
    ecu = SimulatedEcu(vehicle, "test-obd-silent").start()
    try:
        with run_obd(hardware("test-obd-silent"), backend="hardware") as h:
            wait_payload(h, valid)
            ecu.silent = True
            wait_payload(h, invalid)
            assert h.node("obd").last_status["fill"] == "red"
            ecu.silent = False
            wait_payload(h, valid, timeout=15.0)
    finally:
        ecu.stop()


def test_ecu_unplugged_and_replugged() -> None:
    vehicle = Vehicle()
    ecu = SimulatedEcu(vehicle, "test-obd-unplug").start()
    with run_obd(hardware("test-obd-unplug"), backend="hardware") as h:
        wait_payload(h, valid)
        ecu.stop()
        wait_payload(h, invalid)
        ecu = SimulatedEcu(vehicle, "test-obd-unplug").start()
        try:
            wait_payload(h, valid, timeout=15.0)
        finally:
            ecu.stop()


def test_garbage_frames_do_not_disturb_polling() -> None:
    vehicle = Vehicle()
    ecu = SimulatedEcu(vehicle, "test-obd-noise").start()
    noise = can.Bus(interface="virtual", channel="test-obd-noise")
    try:
        with run_obd(hardware("test-obd-noise"), backend="hardware") as h:
            wait_payload(h, valid)
            for data in (b"\xff" * 8, b"\x03\x7f\x01\x12", b"\x10\x14\x49\x02", b"", b"\x07\x41\x0c"):
                noise.send(can.Message(arbitration_id=0x7E8, data=data, is_extended_id=False))
            for _ in range(3):
                payload = wait_payload(h, lambda p: True)
                assert payload["obd.rpm"] is not None
    finally:
        noise.shutdown()
        ecu.stop()


def test_missing_can_interface_turns_values_invalid() -> None:
    device = DeviceConfig(sources={"obd": {"interface": "socketcan", "channel": "nosuchcan9"}})
    with run_obd(device, backend="hardware") as h:
        wait_payload(h, invalid)
        assert h.node("obd").failures >= 1
