"""Stored trouble codes: Mode 03 decoding on golden replies, the simulated ECU, the OBD source's second output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flowengine.config import DeviceConfig
from flowengine.testing import FlowHarness
from nodes.sources.obd.client import ObdClient
from nodes.sources.obd.dtc_names import DESCRIPTIONS
from nodes.sources.obd.dtcs import decode_dtc, decode_dtcs, describe
from nodes.sources.sim.commands import parse_commands
from nodes.sources.sim.ecu import SimulatedEcu
from nodes.sources.sim.vehicle import Vehicle

REPLIES = Path(__file__).parent / "data" / "obd" / "dtcs.txt"


def golden() -> list[tuple[bytes, list[str]]]:
    rows = []
    for line in REPLIES.read_text().splitlines():
        if line and not line.startswith("#"):
            payload, codes = line.split("|")
            rows.append((bytes.fromhex(payload), codes.split()))
    return rows


@pytest.mark.parametrize(("payload", "codes"), golden(), ids=lambda v: v.hex(" ") if isinstance(v, bytes) else None)
def test_mode_03_replies_decode_to_their_codes(payload: bytes, codes: list[str]) -> None:
    assert decode_dtcs(payload) == codes


@pytest.mark.parametrize(("high", "low", "code"), [(0x01, 0x33, "P0133"), (0x41, 0x23, "C0123"), (0xBF, 0xFF, "B3FFF")])
def test_the_top_bits_pick_the_system(high: int, low: int, code: str) -> None:
    assert decode_dtc(high, low) == code


@pytest.mark.parametrize("payload", [b"", b"\x41\x01", b"\x43\x05\x01\x33"])
def test_malformed_replies_are_refused(payload: bytes) -> None:
    with pytest.raises(ValueError):
        decode_dtcs(payload)


def test_descriptions_of_common_codes_and_nothing_for_unknown_ones() -> None:
    assert describe(["P0301", "P1234"]) == {"P0301": "Cylinder 1 misfire detected", "P1234": ""}
    assert all(code[0] in "PCBU" and len(code) == 5 and text for code, text in DESCRIPTIONS.items())


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_client_reads_the_codes_the_simulated_ecu_stores() -> None:
    clock = ManualClock()
    vehicle = Vehicle(clock=clock)
    ecu = SimulatedEcu(vehicle, "test-obd-dtcs").start()
    client = ObdClient.open("virtual", "test-obd-dtcs", 500_000, timeout=0.5)
    try:
        assert client.read_dtcs() == []
        vehicle.apply(parse_commands({"obd.dtc": "P0301"}))
        for code in ("P0420", "U0100", "C0035"):  # four codes: an ISO-TP multi-frame reply
            vehicle.apply(parse_commands({"obd.dtc": code}))
        clock.now += 0.2
        assert client.read_dtcs() == ["P0301", "P0420", "U0100", "C0035"]
    finally:
        client.close()
        ecu.stop()


def test_the_source_sends_the_codes_on_its_second_output_when_they_change() -> None:
    vehicle = Vehicle()
    h = FlowHarness(device=DeviceConfig(simulate=True))
    h.runtime.services.provide(Vehicle, vehicle)
    source = {"id": "obd", "type": "obd source", "interval": 0.1, "wires": [["values"], ["codes"]]}
    h.deploy([source, {"id": "values", "type": "helper"}, {"id": "codes", "type": "helper"}])
    try:
        first = h.one("codes", timeout=10)
        assert (first["topic"], first["payload"]) == ("obd/dtc", {"codes": [], "desc": {}})
        vehicle.apply(parse_commands({"obd.dtc": "P0301"}))
        stored = h.one("codes", timeout=10)["payload"]
        assert stored == {"codes": ["P0301"], "desc": {"P0301": "Cylinder 1 misfire detected"}}
        values = h.first_payload("values", lambda p: p.get("obd.dtcs") == 1)
        assert values["obd.mil"] == 1 and values["obd.status"] == "Connected"
        vehicle.apply(parse_commands({"obd.dtc": "P1234"}))
        assert h.one("codes", timeout=10)["payload"]["desc"] == {"P0301": "Cylinder 1 misfire detected", "P1234": ""}
        vehicle.apply(parse_commands({"obd.dtc": None}))
        assert h.one("codes", timeout=10)["payload"] == {"codes": [], "desc": {}}
        assert h.nothing("codes", within=0.5)  # unchanged codes are not sent again
    finally:
        h.close()


def test_new_codes_go_out_after_the_values_of_the_poll_that_read_them() -> None:
    """A trouble code event's snapshot is taken when the codes arrive: the values of the same poll
    (``obd.dtcs`` counting the code, the MIL lit) must be out by then."""
    vehicle = Vehicle()
    h = FlowHarness(device=DeviceConfig(simulate=True))
    h.runtime.services.provide(Vehicle, vehicle)
    source = {"id": "obd", "type": "obd source", "interval": 0.1, "wires": [["both"], ["both"]]}
    h.deploy([source, {"id": "both", "type": "helper"}])
    try:
        h.first_payload("both", lambda p: p.get("codes") == [], timeout=10)
        vehicle.apply(parse_commands({"obd.dtc": "P0301"}))
        before: dict[str, Any] = {}
        while (msg := h.one("both", timeout=10))["topic"] != "obd/dtc":
            before = msg["payload"]
        assert msg["payload"]["codes"] == ["P0301"]
        assert (before.get("obd.dtcs"), before.get("obd.mil")) == (1, 1)
    finally:
        h.close()


def test_link_status_keys_follow_the_connection() -> None:
    vehicle = Vehicle()
    h = FlowHarness(device=DeviceConfig(simulate=True))
    h.runtime.services.provide(Vehicle, vehicle)
    h.deploy(
        [
            {"id": "obd", "type": "obd source", "interval": 0.1, "wires": [["values"]]},
            {"id": "values", "type": "helper"},
        ]
    )
    try:
        connecting = h.one("values", timeout=10)["payload"]
        assert connecting["obd.status"] == "Connecting" and connecting["obd.rpm"] is None
        connected = h.first_payload("values", lambda p: p["obd.status"] == "Connected")
        assert (connected["obd.protocol"], connected["obd.iftype"], connected["obd.bitrate"]) == (
            "OBD-II",
            "CAN",
            500_000,
        )
        vehicle.apply(parse_commands({"vehicle.ignition": 0}))  # the ECU falls silent
        gone = h.first_payload("values", lambda p: p["obd.status"] == "Disconnected", timeout=15)
        assert gone["obd.rpm"] is None and gone["obd.iftype"] == "CAN"
    finally:
        h.close()
