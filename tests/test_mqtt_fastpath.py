"""The lean MQTT 3.1.1 hot path: golden bytes, paho's own codec as the reference, and the
client driven through a socket pair (no broker) so every byte on the wire is checked."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt import _packet
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.exception import MalformedPacket

from flowengine.mqtt.client import BufferedClient
from flowengine.mqtt.fastpath import (
    LeanInfo,
    decode_puback,
    decode_publish,
    encode_puback,
    encode_publish,
    packet_end,
    remaining_length,
)

topics = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="+#\x00"), min_size=1, max_size=40)


@pytest.mark.parametrize(
    ("n", "encoded"),
    [
        (0, "00"),
        (127, "7f"),
        (128, "8001"),
        (16_383, "ff7f"),
        (16_384, "808001"),
        (2_097_151, "ffff7f"),
        (2_097_152, "80808001"),
        (268_435_455, "ffffff7f"),
    ],
)
def test_remaining_length_golden_bytes(n: int, encoded: str) -> None:
    data = remaining_length(n)
    assert data.hex() == encoded
    packet = b"\x30" + data
    assert packet_end(packet, 0) == (len(packet), len(packet) + n)


def test_remaining_length_refuses_more_than_four_bytes() -> None:
    with pytest.raises(ValueError, match="too large"):
        remaining_length(268_435_456)
    with pytest.raises(MalformedPacket):
        packet_end(b"\x30\xff\xff\xff\xff\x01", 0)


def test_publish_and_puback_golden_bytes() -> None:
    assert encode_publish(b"a/b", b"hi", 0, False, False, 0).hex() == "30070003612f626869"
    # QoS 1, retain, DUP, packet id 0x0102, a UTF-8 topic
    topic = "t/°C".encode()
    assert encode_publish(topic, b"{}", 1, True, True, 0x0102).hex() == "3b0b0005742fc2b043" + "0102" + "7b7d"
    assert encode_puback(0xBEEF).hex() == "4002beef"


@settings(max_examples=150, deadline=None)
@given(topic=topics, payload=st.binary(max_size=300), qos=st.sampled_from([0, 1]), retain=st.booleans(),
       dup=st.booleans(), mid=st.integers(1, 65535))  # fmt: skip
def test_publish_encoding_matches_paho_and_decodes_back(
    topic: str, payload: bytes, qos: int, retain: bool, dup: bool, mid: int
) -> None:
    raw = topic.encode()
    ours = encode_publish(raw, payload, qos, retain, dup, mid)
    assert ours == _paho_publish_bytes(raw, payload, qos, retain, dup, mid)
    start, end = packet_end(ours, 0)
    assert end == len(ours)
    assert decode_publish(ours[0], ours, start, end) == (raw, mid if qos else 0, payload)
    reference = _packet.decode_publish(ours[0], ours[start:end], mqtt.MQTTv311)
    assert (reference.topic, reference.payload, reference.retain, reference.dup) == (raw, payload, retain, dup)


def _paho_publish_bytes(topic: bytes, payload: bytes, qos: int, retain: bool, dup: bool, mid: int) -> bytes:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client._sock = _NullSocket()  # type: ignore[assignment]
    client.on_socket_register_write = lambda *a: None  # keep the packet queued
    mqtt.Client._send_publish(client, mid, topic, payload, qos, retain, dup)
    return bytes(client._out_packet[0]["packet"])


class _NullSocket:
    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("packet", "problem"),
    [
        ("3000", "too short"),
        ("30020000", "empty"),
        ("3003000561", "topic"),
        ("3204000161", "packet id"),
    ],
)
def test_malformed_publish_is_refused(packet: str, problem: str) -> None:
    data = bytes.fromhex(packet)
    start, end = packet_end(data, 0)
    with pytest.raises(MalformedPacket, match=problem):
        decode_publish(data[0], data, start, end)


def test_puback_must_be_two_bytes() -> None:
    assert decode_puback(b"\x40\x02\x12\x34", 2, 4) == 0x1234
    with pytest.raises(MalformedPacket):
        decode_puback(b"\x40\x03\x12\x34\x00", 2, 5)


def test_incomplete_packets_wait_for_more() -> None:
    assert packet_end(b"\x30", 0) == (0, 0)
    assert packet_end(b"\x30\x80", 0) == (0, 0)
    assert packet_end(b"\x30\x05\x00", 0) == (2, 7)  # body not here yet


def test_lean_info_waits_across_threads_and_unpacks() -> None:
    info = LeanInfo(7)
    rc, mid = info
    assert (rc, mid) == (MQTTErrorCode.MQTT_ERR_SUCCESS, 7)
    assert not info.is_published()
    info.wait_for_publish(0.01)  # times out quietly, as paho's does
    threading.Timer(0.05, info._set_as_published).start()
    info.wait_for_publish(5)
    assert info.is_published()
    info.rc = MQTTErrorCode.MQTT_ERR_QUEUE_SIZE
    with pytest.raises(ValueError, match="ERR_QUEUE_SIZE"):
        info.is_published()


# -- the client on a socket pair ---------------------------------------------------------


class Wire:
    """A BufferedClient whose socket is one end of a socket pair; the test is the broker."""

    def __init__(self) -> None:
        self.broker, ours = socket.socketpair()
        ours.setblocking(False)
        self.broker.settimeout(2)
        self.client = BufferedClient(CallbackAPIVersion.VERSION2, client_id="wire", protocol=mqtt.MQTTv311)
        self.client._sock = ours  # type: ignore[assignment]
        self.client.on_socket_register_write = lambda *a: None  # the test decides when to write
        self.messages: list[tuple[str, bytes, int, bool, bool, int]] = []
        self.acked: list[int] = []
        self.client.on_message = self._message
        self.client.on_publish = lambda c, u, mid, rc, p: self.acked.append(mid)

    def _message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.messages.append((msg.topic, msg.payload, msg.qos, msg.retain, msg.dup, msg.mid))

    def feed(self, data: bytes) -> MQTTErrorCode:
        self.broker.sendall(data)
        return self.client.loop_read()

    def written(self) -> bytes:
        """Everything the client writes on one ``loop_write``."""
        assert self.client.loop_write() == MQTTErrorCode.MQTT_ERR_SUCCESS
        data = b""
        self.broker.settimeout(0.2)
        try:
            while chunk := self.broker.recv(65536):
                data += chunk
        except TimeoutError:
            pass
        return data

    def close(self) -> None:
        self.broker.close()
        if self.client._sock is not None:
            self.client._sock.close()


@pytest.fixture
def wire() -> Iterator[Wire]:
    w = Wire()
    yield w
    w.close()


def test_incoming_qos1_is_delivered_then_acknowledged(wire: Wire) -> None:
    order: list[str] = []
    wire.client.on_message = lambda c, u, m: order.append(f"message {m.mid} queued={len(c._out_packet)}")
    assert wire.feed(encode_publish(b"in/a", b"one", 1, False, False, 5)) == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert order == ["message 5 queued=0"]  # the PUBACK is queued only after the callback returned
    assert wire.written() == encode_puback(5)


def test_the_read_itself_writes_the_acks(wire: Wire) -> None:
    wire.feed(encode_publish(b"in/a", b"x", 1, False, False, 3) + encode_publish(b"in/b", b"y", 1, False, False, 4))
    assert wire.broker.recv(64) == encode_puback(3) + encode_puback(4)  # no loop_write needed: one send


def test_packets_split_across_reads_and_batched_in_one(wire: Wire) -> None:
    stream = b"".join(encode_publish(b"in/t", str(i).encode() * 50, 1, i % 2 == 0, False, i + 1) for i in range(5))
    stream += encode_publish("in/ü".encode(), b"", 0, False, True, 0)
    for cut in (1, 2, 3, 150, 151, len(stream)):  # mid length field, mid body, whole
        wire.messages.clear()
        wire.feed(stream[:cut])
        wire.feed(stream[cut:])
        assert [m[1] for m in wire.messages] == [str(i).encode() * 50 for i in range(5)] + [b""]
        assert [m[3] for m in wire.messages][:5] == [True, False, True, False, True]
        assert wire.messages[-1][:5] == ("in/ü", b"", 0, False, True)
        assert wire.written() == b"".join(encode_puback(i + 1) for i in range(5))


def test_outgoing_qos1_is_tracked_until_its_puback(wire: Wire) -> None:
    infos = [wire.client.publish("out/t", f"m{i}", 1) for i in range(3)]
    assert [i.mid for i in infos] == [1, 2, 3]
    assert len(wire.client._out_packet) == 1  # coalesced into one write
    assert wire.written() == b"".join(
        encode_publish(b"out/t", f"m{i}".encode(), 1, False, False, i + 1) for i in range(3)
    )
    wire.feed(encode_puback(2) + encode_puback(1))
    assert wire.acked == [2, 1]
    assert [i.is_published() for i in infos] == [True, True, False]
    assert list(wire.client._out_messages) == [3]
    wire.feed(encode_puback(99))  # unknown id: ignored
    assert wire.acked == [2, 1]


def test_unacknowledged_publish_is_resent_with_dup_after_reconnect(wire: Wire) -> None:
    info = wire.client.publish("out/r", b"again", 1, retain=True)
    wire.written()
    # what paho's reconnect() does to the session, then a new connection and its CONNACK
    wire.client._messages_reconnect_reset()
    wire.broker.close()
    wire.broker, ours = socket.socketpair()
    ours.setblocking(False)
    wire.client._sock = ours  # type: ignore[assignment]
    wire.feed(bytes.fromhex("20020100"))  # CONNACK, session present
    assert wire.written() == encode_publish(b"out/r", b"again", 1, True, True, info.mid)
    wire.feed(encode_puback(info.mid))
    assert info.is_published()


def test_qos2_stays_with_paho(wire: Wire) -> None:
    wire.feed(bytes.fromhex("340a0005696e2f7132") + b"\x00\x09x")  # QoS 2 PUBLISH, id 9
    assert wire.messages == []  # QoS 2: delivered on PUBREL
    assert wire.written() == bytes.fromhex("50020009")  # PUBREC
    wire.feed(bytes.fromhex("62020009"))  # PUBREL
    assert wire.messages == [("in/q2", b"x", 2, False, False, 9)]
    assert wire.written() == bytes.fromhex("70020009")  # PUBCOMP


def test_pausing_leaves_the_rest_buffered(wire: Wire) -> None:
    def pause_after_first(client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        wire.messages.append((msg.topic, msg.payload, msg.qos, msg.retain, msg.dup, msg.mid))
        client.reading = len(wire.messages) > 1

    wire.client.on_message = pause_after_first
    wire.feed(b"".join(encode_publish(b"p", bytes([i]), 0, False, False, 0) for i in range(3)))
    assert len(wire.messages) == 1 and wire.client.buffered()
    wire.client.reading = True
    wire.client.loop_read()
    assert [m[1] for m in wire.messages] == [b"\x00", b"\x01", b"\x02"]
    assert not wire.client.buffered()


@pytest.mark.parametrize(
    "packet",
    [
        encode_publish(b"bad/\xff", b"x", 0, False, False, 0),  # topic not UTF-8: close [MQTT-1.5.3-1]
        bytes.fromhex("30ffffffff01"),  # remaining length of 5 bytes
        bytes.fromhex("400300010000"),  # PUBACK of 3 bytes
    ],
)
def test_malformed_packets_close_the_connection(wire: Wire, packet: bytes) -> None:
    lost: list[Any] = []
    wire.client.on_disconnect = lambda c, u, f, rc, p: lost.append(rc)
    assert wire.feed(packet) == MQTTErrorCode.MQTT_ERR_PROTOCOL
    assert wire.client._sock is None and lost and wire.messages == []


def test_bad_publish_arguments_fail_like_paho(wire: Wire) -> None:
    with pytest.raises(ValueError, match="Invalid topic"):
        wire.client.publish("", b"x", 1)
    with pytest.raises(ValueError, match="wildcards"):
        wire.client.publish("a/#", b"x", 1)
    with pytest.raises(TypeError):
        wire.client.publish("a", object(), 1)  # type: ignore[arg-type]
    wire.client._sock = None
    info = wire.client.publish("a", b"x", 1)
    assert info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and info.mid in wire.client._out_messages
