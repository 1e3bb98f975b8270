"""OBD-II codec on golden frames with known answers, and the VIN through real ISO-TP segmentation."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import can
import pytest

from nodes.sources.obd.client import ObdClient
from nodes.sources.obd.node import fuel_economy, wanted_pids
from nodes.sources.obd.pids import KEYS, decode, decode_vin, fuel_rate_from_maf, parse_single_frame, supported
from nodes.sources.sim.ecu_pids import encode
from nodes.sources.sim.vehicle import Vehicle

FRAMES = Path(__file__).parent / "data" / "obd" / "frames.txt"


def golden() -> list[tuple[bytes, str]]:
    rows = []
    for line in FRAMES.read_text().splitlines():
        if line and not line.startswith("#"):
            frame, answer = line.split("|")
            rows.append((bytes.fromhex(" ".join(frame.split()[1:])), answer.strip()))
    return rows


def parse_answer(answer: str) -> dict[str, Any]:
    pairs = (item.split("=") for item in answer.split())
    return {k: None if v == "None" else float(v) if "." in v else int(v) for k, v in pairs}


@pytest.mark.parametrize(("frame", "answer"), [r for r in golden() if r[1].startswith("obd.")])
def test_mode01_reply_decodes_to_known_answer(frame: bytes, answer: str) -> None:
    reply = parse_single_frame(frame)
    assert reply is not None and reply[0] == 0x41
    values = decode(reply[1], reply[2])
    for key, expected in parse_answer(answer).items():
        assert values[key] == expected, key
        assert type(values[key]) is type(expected), key


def test_rpm_example_from_the_brief() -> None:
    reply = parse_single_frame(bytes.fromhex("04 41 0C 1A F8 AA AA AA"))
    assert reply is not None and decode(reply[1], reply[2]) == {"obd.rpm": 1726.0}


def test_supported_pid_bitmap() -> None:
    frame, answer = next(r for r in golden() if r[1].startswith("supported="))
    reply = parse_single_frame(frame)
    assert reply is not None and reply[1] == 0x00
    expected = {int(p, 16) for p in answer.split("=")[1].split(",")}
    assert supported(0x00, reply[2]) == expected


@pytest.mark.parametrize("frame", [r[0] for r in golden() if r[1] == "none"])
def test_negative_and_multi_frame_replies_are_not_single_frames(frame: bytes) -> None:
    assert parse_single_frame(frame) is None


def test_short_data_is_an_error_naming_the_pid() -> None:
    with pytest.raises(ValueError, match="PID 0C"):
        decode(0x0C, b"\x1a")


def test_vin_payload() -> None:
    assert decode_vin(b"\x49\x02\x01" + b"1D4GP00R55B123456") == "1D4GP00R55B123456"
    with pytest.raises(ValueError):
        decode_vin(b"\x49\x02\x01SHORT")


def test_diesel_monitors_use_the_compression_table() -> None:
    values = decode(0x01, bytes([0x00, 0x0F, 0x43, 0x02]))  # bit 3 of B: compression ignition
    assert values["obd.nmhc_mon"] == 1 and values["obd.n_c_mon"] == 0
    assert values["obd.pf_mon"] == 1 and values["obd.dpf_mon"] == 1
    assert values["obd.c_mon"] is None


def test_derived_values() -> None:
    assert fuel_rate_from_maf(20.0) == 6.57
    assert fuel_economy(100, 5.0) == 20.0
    assert fuel_economy(50, 0.0) == 125.5  # fuel cut while rolling
    assert fuel_economy(None, 5.0) is None


def test_only_useful_supported_pids_are_polled() -> None:
    pids = wanted_pids({0x00, 0x01, 0x0C, 0x10, 0x20, 0x41, 0x49, 0x4A, 0x5E, 0x99}, "since_clear")
    assert pids == [0x01, 0x0C, 0x49, 0x5E]
    assert 0x41 in wanted_pids({0x01, 0x41}, "drive_cycle")


def test_simulated_ecu_encoding_round_trips() -> None:
    state = Vehicle().state(900.0)
    values: dict[str, Any] = {}
    for pid in (0x04, 0x05, 0x0C, 0x0D, 0x2F, 0x5E, 0xA6):
        data = encode(pid, state)
        assert data is not None
        values.update(decode(pid, data))
    assert values["obd.rpm"] == pytest.approx(state.rpm, abs=0.25)
    assert values["obd.speed"] == round(state.speed_kmh)
    assert values["obd.odo"] == pytest.approx(state.odometer_km, abs=0.05)
    assert values["obd.f_rate"] == pytest.approx(state.fuel_rate, abs=0.05)
    assert set(values) <= set(KEYS)


def test_vin_reassembled_from_recorded_multi_frame_reply() -> None:
    """A scripted ECU plays the recorded first and consecutive frames after the client's flow control."""
    frames = [r[0] for r in golden() if r[1].startswith("vin")]
    channel = "test-obd-vin"
    ecu = can.Bus(interface="virtual", channel=channel)
    client = ObdClient.open("virtual", channel, 500_000, timeout=0.5)
    seen: list[bytes] = []

    def play() -> None:
        request = ecu.recv(2.0)
        assert request is not None and request.arbitration_id == 0x7E0
        seen.append(bytes(request.data))
        ecu.send(can.Message(arbitration_id=0x7E8, data=frames[0], is_extended_id=False))
        flow = ecu.recv(2.0)
        assert flow is not None and flow.data[0] >> 4 == 3  # flow control: continue to send
        seen.append(bytes(flow.data))
        for frame in frames[1:]:
            ecu.send(can.Message(arbitration_id=0x7E8, data=frame, is_extended_id=False))

    player = threading.Thread(target=play)
    player.start()
    try:
        assert client.read_vin(timeout=2.0) == "1D4GP00R55B123456"
    finally:
        player.join(3)
        client.close()
        ecu.shutdown()
    assert seen[0][:3] == b"\x02\x09\x02"
