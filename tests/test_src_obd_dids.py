"""Manufacturer DIDs (UDS 0x22): codec on golden replies, settings errors, the client over a virtual bus."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import can
import pytest

from flowengine.config import DeviceConfig
from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness
from nodes.sources.obd.client import ObdClient
from nodes.sources.obd.dids import DEFAULT_DIDS, DidSpec, decode_did, parse_rdbi, rdbi_request
from nodes.sources.obd.node import ObdSettings
from nodes.sources.obd.pids import parse_single_frame
from nodes.sources.sim.ecu import SimulatedEcu
from nodes.sources.sim.ecu_dids import DidServer, encode_did
from nodes.sources.sim.vehicle import AFTER_RUN_S, Vehicle

ROWS = Path(__file__).parent / "data" / "obd" / "dids.txt"


def config_problems(device: DeviceConfig, node_type: str, caplog: pytest.LogCaptureFixture) -> str:
    """What a deploy says about a bad device config: refused with the problems, or logged when the node starts."""
    h = FlowHarness(device=device)
    try:
        with caplog.at_level("ERROR"):
            h.deploy([{"id": node_type.split()[0], "type": node_type, "wires": []}])
    except FlowConfigError as exc:
        return str(exc)
    finally:
        h.close()
    return caplog.text


def golden(kind: str) -> list[tuple[bytes, str]]:
    """(ISO-TP payload of a single frame, answer) rows whose answer starts with ``kind``."""
    rows = []
    for line in ROWS.read_text().splitlines():
        if line and not line.startswith("#"):
            frame, answer = (part.strip() for part in line.split("|"))
            data = bytes.fromhex(" ".join(frame.split()[1:]))
            if answer.startswith(kind):
                rows.append((data[1 : 1 + data[0]], answer))
    return rows


@pytest.mark.parametrize(("payload", "answer"), golden("obd."))
def test_reply_decodes_to_known_answer(payload: bytes, answer: str) -> None:
    key, expected = answer.split("=")
    spec = DEFAULT_DIDS[key]
    reply = parse_rdbi(spec.did, payload)
    assert reply is not None and reply.data is not None
    value = decode_did(key, spec, reply.data)
    assert value == (float(expected) if "." in expected else int(expected))
    assert type(value) is (float if "." in expected else int)


@pytest.mark.parametrize(("payload", "answer"), golden("range"))
def test_out_of_range_values_are_errors_naming_the_key(payload: bytes, answer: str) -> None:
    key = answer.split()[1]
    reply = parse_rdbi(DEFAULT_DIDS[key].did, payload)
    assert reply is not None and reply.data is not None
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        decode_did(key, DEFAULT_DIDS[key], reply.data)


@pytest.mark.parametrize(("payload", "answer"), golden("nrc"))
def test_negative_responses(payload: bytes, answer: str) -> None:
    reply = parse_rdbi(0x4010, payload)
    assert reply is not None and reply.data is None
    assert reply.nrc == int(answer.split()[0].split("=")[1], 16)
    assert reply.absent == ("absent" in answer)
    assert reply.pending == ("pending" in answer)


def test_request_and_foreign_replies() -> None:
    assert rdbi_request(0x4012) == b"\x22\x40\x12"
    assert parse_rdbi(0x4012, b"\x62\x40\x13\x01") is None  # another DID
    assert parse_rdbi(0x4012, b"\x41\x0c\x1a\xf8") is None  # a Mode 01 reply
    assert parse_single_frame(b"\x03\x7f\x22\x31") is None  # never mistaken for Mode 01


def test_signed_multi_byte_and_short_records() -> None:
    spec = DidSpec(did=0x1234, bytes=2, signed=True, scale=0.001)
    assert decode_did("obd.s_w_angle", spec, b"\xfc\x18") == -1.0
    with pytest.raises(ValueError, match="needs 2 byte"):
        decode_did("obd.s_w_angle", spec, b"\xfc")


@pytest.mark.parametrize("key", sorted(DEFAULT_DIDS))
def test_simulated_ecu_encoding_round_trips(key: str) -> None:
    state = Vehicle().state(700.0)
    reply = DidServer(DEFAULT_DIDS).respond(rdbi_request(DEFAULT_DIDS[key].did), state)
    parsed = parse_rdbi(DEFAULT_DIDS[key].did, reply)
    assert parsed is not None and parsed.data is not None
    value = decode_did(key, DEFAULT_DIDS[key], parsed.data)
    model = {
        "obd.brake": int(state.brake),
        "obd.parking": int(state.parking_brake),
        "obd.s_w_angle": state.steering_rad,
        "obd.max_avl_torque": state.max_torque_pct,
        "obd.c_s_a_s_mon": int(state.monitors_complete["c_s_a_s"]),
    }[key]
    assert value == pytest.approx(model, abs=DEFAULT_DIDS[key].scale)


def test_encoding_saturates_at_the_raw_range() -> None:
    assert encode_did(DidSpec(did=1, scale=0.4), 500.0) == b"\xff"
    assert encode_did(DidSpec(did=1, bytes=2, signed=True), -1e9) == b"\x80\x00"


def test_unknown_did_gets_request_out_of_range() -> None:
    server = DidServer({"obd.brake": DidSpec(did=0x4010)})
    state = Vehicle().state(10.0)
    assert server.respond(b"\x22\x40\x11", state) == b"\x7f\x22\x31"
    assert server.respond(b"\x22\x40", state) == b"\x7f\x22\x13"


@pytest.mark.parametrize(
    ("dids", "field"),
    [
        ({"brake": {"did": 0x10000}}, "dids.obd.brake.did"),
        ({"brake": {"did": 1, "scale": 0}}, "dids.obd.brake.scale"),
        ({"brake": {"did": 1, "bytes": 5}}, "dids.obd.brake.bytes"),
        ({"brake": {"did": 1, "unit": "x"}}, "dids.obd.brake.unit"),
        ({"vin": {"did": 1}}, "dids"),
        ({"obd.nosuch": {"did": 1}}, "dids"),
        ({"brake": {"did": 1}, "parking": {"did": 1}}, "dids"),
    ],
)
def test_bad_did_table_names_the_field(dids: dict[str, Any], field: str, caplog: pytest.LogCaptureFixture) -> None:
    device = DeviceConfig(simulate=True, sources={"obd": {"dids": dids}})
    assert f"sources.obd: node obd: {field}" in config_problems(device, "obd source", caplog)


def test_short_keys_and_replacing_the_default_table() -> None:
    settings = ObdSettings.model_validate({"dids": {"brake": {"did": 0x0101}}})
    assert settings.dids == {"obd.brake": DidSpec(did=0x0101)}
    assert ObdSettings().dids == DEFAULT_DIDS
    assert ObdSettings.model_validate({"dids": {}}).dids == {}


def test_client_waits_through_response_pending() -> None:
    """A scripted ECU answers 7F 22 78 (busy) before the record; the client keeps the request open."""
    channel = "test-obd-did-pending"
    ecu = can.Bus(interface="virtual", channel=channel)
    client = ObdClient.open("virtual", channel, 500_000, timeout=0.5)
    seen: list[bytes] = []

    def play() -> None:
        request = ecu.recv(2.0)
        assert request is not None and request.arbitration_id == 0x7E0
        seen.append(bytes(request.data))
        for data in (b"\x03\x7f\x22\x78", b"\x04\x62\x40\x13\xc8"):
            ecu.send(can.Message(arbitration_id=0x7E8, data=data.ljust(8, b"\x55"), is_extended_id=False))

    player = threading.Thread(target=play)
    player.start()
    try:
        reply = client.read_did(0x4013)
    finally:
        player.join(3)
        client.close()
        ecu.shutdown()
    assert seen[0][:4] == b"\x03\x22\x40\x13"
    assert reply is not None and reply.data == b"\xc8"


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_ecu_answers_with_the_ignition_on_and_the_engine_stopped_then_falls_silent() -> None:
    clock = ManualClock()
    vehicle = Vehicle(clock=clock)
    times = [t / 2 for t in range(0, 2 * 3600)]
    key_on = next(t for t in times if (s := vehicle.state(t)).ignition and not s.engine_on)
    parked = next(t for t in times if t > key_on and not vehicle.state(t).ignition)
    ecu = SimulatedEcu(vehicle, "test-obd-key-on").start()
    client = ObdClient.open("virtual", "test-obd-key-on", 500_000, timeout=0.5)
    try:
        clock.now = key_on
        assert client.request(0x0C) == b"\x00\x00"  # 0 rpm, but an answer
        reply = client.read_did(DEFAULT_DIDS["obd.parking"].did)
        assert reply is not None and reply.data == b"\x01"
        clock.now = parked + 1.0
        assert client.request(0x0C) == b"\x00\x00"  # the ECU's after-run: awake a little after key-off
        clock.now = parked + AFTER_RUN_S + 0.5
        assert client.request(0x0C) is None
    finally:
        client.close()
        ecu.stop()
