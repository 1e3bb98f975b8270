"""OBD source through python-can's virtual bus: simulated ECU, silent bus, garbage frames, recovery."""

from __future__ import annotations

from typing import Any

import can
import pytest

from flowengine.clock import FakeClock
from flowengine.config import DeviceConfig
from flowengine.testing import FlowHarness, run_source, wait_until
from nodes.flexapi.params import PARAMS, conforms
from nodes.sources.obd.dids import DEFAULT_DIDS
from nodes.sources.obd.pids import KEYS
from nodes.sources.sim.ecu import SimulatedEcu
from nodes.sources.sim.vehicle import Vehicle


def run_obd(device: DeviceConfig, **config: Any) -> FlowHarness:
    return run_source("obd", "obd source", device, interval=0.1, **config)


def valid(payload: dict[str, Any]) -> bool:
    return payload.get("obd.rpm") is not None


def invalid(payload: dict[str, Any]) -> bool:
    return all(payload[k] is None for k in KEYS) and "obd.ts" not in payload


def hardware(channel: str) -> DeviceConfig:
    return DeviceConfig(sources={"obd": {"interface": "virtual", "channel": channel, "timeout_s": 0.05}})


def test_simulated_ecu_fills_every_supported_key_with_appendix_types() -> None:
    with run_obd(DeviceConfig(simulate=True)) as h:
        payload = h.first_payload("out", lambda p: valid(p) and p["obd.vin"] is not None)
        assert len(payload["obd.vin"]) == 17
        assert isinstance(payload["obd.ts"], int)
        for key in ("obd.c_temp", "obd.speed", "obd.dtcs", "obd.mil", "obd.odo", "obd.up_time", "obd.r_torque"):
            assert payload[key] is not None, key
        assert type(payload["obd.rpm"]) is float and type(payload["obd.speed"]) is int
        assert payload["obd.mil"] in (0, 1) and type(payload["obd.mil"]) is int
        assert payload["obd.d_e_f_vol"] is None  # a petrol car has no DEF PID
        assert payload["obd.brake"] in (0, 1)  # from a manufacturer DID


def test_ecu_goes_silent_then_answers_again() -> None:
    vehicle = Vehicle()
    ecu = SimulatedEcu(vehicle, "test-obd-silent").start()
    try:
        with run_obd(hardware("test-obd-silent"), backend="hardware") as h:
            h.first_payload("out", valid)
            ecu.silent = True
            h.first_payload("out", invalid)
            assert h.node("obd").last_status["fill"] == "red"
            ecu.silent = False
            h.first_payload("out", valid, timeout=15.0)
    finally:
        ecu.stop()


def test_ecu_unplugged_and_replugged() -> None:
    vehicle = Vehicle()
    ecu = SimulatedEcu(vehicle, "test-obd-unplug").start()
    with run_obd(hardware("test-obd-unplug"), backend="hardware") as h:
        h.first_payload("out", valid)
        ecu.stop()
        h.first_payload("out", invalid)
        ecu = SimulatedEcu(vehicle, "test-obd-unplug").start()
        try:
            h.first_payload("out", valid, timeout=15.0)
        finally:
            ecu.stop()


def test_garbage_frames_do_not_disturb_polling() -> None:
    vehicle = Vehicle()
    ecu = SimulatedEcu(vehicle, "test-obd-noise").start()
    noise = can.Bus(interface="virtual", channel="test-obd-noise")
    try:
        with run_obd(hardware("test-obd-noise"), backend="hardware") as h:
            h.first_payload("out", valid)
            for data in (b"\xff" * 8, b"\x03\x7f\x01\x12", b"\x10\x14\x49\x02", b"", b"\x07\x41\x0c"):
                noise.send(can.Message(arbitration_id=0x7E8, data=data, is_extended_id=False))
            for _ in range(3):
                payload = h.first_payload("out", lambda p: True)
                assert payload["obd.rpm"] is not None
    finally:
        noise.shutdown()
        ecu.stop()


def test_missing_can_interface_turns_values_invalid() -> None:
    device = DeviceConfig(sources={"obd": {"interface": "socketcan", "channel": "nosuchcan9"}})
    with run_obd(device, backend="hardware") as h:
        h.first_payload("out", invalid)
        assert h.node("obd").failures >= 1


UNAVAILABLE = {"obd.brake_prim_press", "obd.brake_sec_press"}
DIESEL_ONLY = {"obd.d_e_f_vol", "obd.nmhc_mon", "obd.n_c_mon", "obd.b_p_c_s_mon", "obd.pf_mon", "obd.dpf_mon"}
SPARK_ONLY = {"obd.c_mon", "obd.h_c_mon", "obd.e_s_mon", "obd.s_a_s_mon", "obd.a_s_r_mon", "obd.o_s_mon"}
SPARK_ONLY |= {"obd.o_s_h_mon", "obd.e_g_s_h_mon"}


@pytest.mark.parametrize(("engine", "not_fitted"), [("spark", DIESEL_ONLY), ("compression", SPARK_ONLY)])
def test_simulation_gives_every_a4_key_its_type_and_range_from_the_first_reading(
    engine: str, not_fitted: set[str]
) -> None:
    """The agent starts inside a trip: the first reading is complete (only the other engine's keys are null)."""
    device = DeviceConfig(simulate=True, sources={"vehicle": {"engine": engine}})
    with run_obd(device) as h:
        payload = h.first_payload("out", lambda p: "obd.ts" in p)
    assert payload["obd.rpm"] > 0 and payload["obd.up_time"] < 60 and payload["obd.parking"] == 1
    for key in KEYS:
        if key in UNAVAILABLE | not_fitted:
            assert payload[key] is None, key
        else:
            assert payload[key] is not None, key
            assert conforms(PARAMS[key], payload[key]), (key, payload[key])


def test_only_the_unavailable_brake_pressures_are_null_on_both_engines() -> None:
    assert not DIESEL_ONLY & SPARK_ONLY


def requests_for(spy: can.BusABC, did: int) -> int:
    """Physical ReadDataByIdentifier requests for ``did`` seen on the bus so far."""
    count = 0
    while (msg := spy.recv(timeout=0)) is not None:
        if msg.arbitration_id == 0x7E0 and bytes(msg.data[1:4]) == bytes([0x22, did >> 8, did & 0xFF]):
            count += 1
    return count


def test_absent_did_is_not_asked_again_until_reconnect() -> None:
    table = {k: v for k, v in DEFAULT_DIDS.items() if k != "obd.c_s_a_s_mon"}
    missing = DEFAULT_DIDS["obd.c_s_a_s_mon"].did
    ecu = SimulatedEcu(Vehicle(), "test-obd-absent", dids=table).start()
    spy = can.Bus(interface="virtual", channel="test-obd-absent")
    try:
        with run_obd(hardware("test-obd-absent"), backend="hardware") as h:
            first = h.first_payload("out", valid)
            for _ in range(3):
                later = h.first_payload("out", valid)
            assert first["obd.c_s_a_s_mon"] is None and later["obd.s_w_angle"] is not None
            assert requests_for(spy, missing) == 1
            ecu.silent = True
            h.first_payload("out", invalid)
            ecu.silent = False
            h.first_payload("out", valid, timeout=15.0)
            assert requests_for(spy, missing) == 1  # asked once more after reconnecting
    finally:
        spy.shutdown()
        ecu.stop()


def test_custom_did_table_is_served_and_read_under_simulation() -> None:
    device = DeviceConfig(
        simulate=True,
        sources={"obd": {"dids": {"s_w_angle": {"did": 0x0200, "bytes": 2, "signed": True, "scale": 0.001}}}},
    )
    with run_obd(device) as h:
        payload = h.first_payload("out", valid)
    assert isinstance(payload["obd.s_w_angle"], float)
    assert payload["obd.brake"] is None  # not in the table any more


@pytest.mark.parametrize("interval", [10.0, 2.5])
def test_poll_cycles_follow_the_interval_on_the_clock(interval: float) -> None:
    """Counted on the bus over three intervals: the ECU sees PID 0C (rpm) once per cycle, one cycle per interval."""
    with FlowHarness(device=DeviceConfig(simulate=True), clock=FakeClock()) as h:
        h.deploy(
            [
                {"id": "obd", "type": "obd source", "interval": interval, "wires": [["out"]]},
                {"id": "out", "type": "helper"},
            ]
        )
        h.first_payload("out", lambda p: p["obd.status"] == "Connected", timeout=10)  # the first cycle runs at once
        h.taken("out")  # the connecting message before it
        node = h.node("obd")
        for _ in range(12):  # time moves in quarter intervals; each step waits for the bus work it caused
            h.advance(interval / 4)
            wait_until(lambda: node.device.pending == 0, 10, what="the cycle on the device thread")  # type: ignore[attr-defined]
            h.settle()
        assert len(h.taken("out")) == 3
        assert node.ecu.requests[0x0C] == 4  # type: ignore[attr-defined]
