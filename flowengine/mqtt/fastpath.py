"""Lean MQTT 3.1.1 codec for the hot path: PUBLISH and PUBACK, in and out.

paho builds a ``Properties`` and a ``ReasonCode`` for every PUBACK (even on
3.1.1, where a PUBACK is just a packet id) and a ``threading.Condition`` for
every publish; on a relay that is most of the CPU per message. These helpers
encode and decode the two packets on their own, and the message classes below
are paho's own types built without those costs, so everything downstream
(paho's resend after reconnect, ``on_message``/``on_publish`` callbacks,
``MQTTMessageInfo.wait_for_publish``) keeps working unchanged.
Everything else (CONNECT, SUBSCRIBE, QoS 2, MQTT 5) stays with paho.
"""

from __future__ import annotations

import struct
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.client import MQTTMessage, MQTTMessageInfo
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.exception import MalformedPacket
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

PUBLISH = 0x30
PUBACK = 0x40
#: Largest remaining length MQTT can express (4 length bytes).
MAX_REMAINING = 268_435_455
#: What paho's v2 ``on_publish`` receives for every 3.1.1 PUBACK: shared, do not mutate.
PUBACK_REASON = ReasonCode(PacketTypes.PUBACK)
PUBACK_PROPERTIES = Properties(PacketTypes.PUBACK)  # type: ignore[no-untyped-call]

_MID = struct.Struct("!H")
_SMALL_LENGTHS = [bytes([n]) for n in range(128)]


def remaining_length(n: int) -> bytes:
    """MQTT's variable-length integer (1 to 4 bytes, 7 bits each, low first)."""
    if n < 128:
        return _SMALL_LENGTHS[n]
    if n > MAX_REMAINING:
        raise ValueError(f"packet too large: remaining length {n} exceeds {MAX_REMAINING}")
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | 0x80 if n else digit)
        if not n:
            return bytes(out)


def encode_publish(topic: bytes, payload: bytes | bytearray, qos: int, retain: bool, dup: bool, mid: int) -> bytes:
    """A complete PUBLISH packet (QoS 0 carries no packet id)."""
    first = PUBLISH | (dup << 3) | (qos << 1) | retain
    head = _MID.pack(len(topic)) + topic
    if qos:
        head += _MID.pack(mid)
    return b"".join((bytes((first,)), remaining_length(len(head) + len(payload)), head, payload))


def encode_puback(mid: int) -> bytes:
    """The 4-byte PUBACK of an incoming QoS 1 message."""
    return b"\x40\x02" + _MID.pack(mid)


def packet_end(buf: bytes, pos: int) -> tuple[int, int]:
    """Where the packet starting at ``pos`` has its body: ``(start, end)``.

    ``end`` may lie beyond ``len(buf)`` (the packet is not complete yet);
    ``(0, 0)`` means not even the length field is complete. Raises
    ``MalformedPacket`` for a length field longer than 4 bytes.
    """
    size = len(buf)
    i = pos + 1
    length = mult = 0
    while i < size:
        byte = buf[i]
        length += (byte & 0x7F) << mult
        i += 1
        if byte < 0x80:
            return i, i + length
        mult += 7
        if mult == 28:
            raise MalformedPacket("remaining length longer than 4 bytes")
    return 0, 0


def decode_publish(first: int, buf: bytes, start: int, end: int) -> tuple[bytes, int, bytes]:
    """``(topic, mid, payload)`` of a 3.1.1 PUBLISH body; mid is 0 for QoS 0."""
    if end - start < 2:
        raise MalformedPacket("PUBLISH too short for its topic length")
    topic_end = start + 2 + ((buf[start] << 8) | buf[start + 1])
    if topic_end == start + 2:
        raise MalformedPacket("topic can't be empty in MQTTv3")
    mid = 0
    body = topic_end
    if first & 0x06:
        body += 2
        if body > end:
            raise MalformedPacket("PUBLISH too short for its packet id")
        mid = (buf[topic_end] << 8) | buf[topic_end + 1]
    elif topic_end > end:
        raise MalformedPacket("PUBLISH too short for its topic")
    return buf[start + 2 : topic_end], mid, buf[body:end]


def decode_puback(buf: bytes, start: int, end: int) -> int:
    """The packet id of a 3.1.1 PUBACK body (exactly 2 bytes)."""
    if end - start != 2:
        raise MalformedPacket("wrong size of packet")
    return (buf[start] << 8) | buf[start + 1]


class InMessage(MQTTMessage):
    """paho's ``MQTTMessage`` for an incoming publish, without the unused ``MQTTMessageInfo``.

    The topic is decoded once (invalid UTF-8 is refused before a message is made).
    """

    __slots__ = ("_text",)

    def __init__(self, mid: int, raw_topic: bytes, topic: str, payload: bytes, first: int) -> None:
        self.mid = mid
        self._text = topic
        self._topic = raw_topic
        self.payload = payload
        self.qos = (first >> 1) & 3
        self.retain = bool(first & 1)
        self.dup = bool(first & 8)
        self.state = mqtt.mqtt_ms_invalid
        self.timestamp = time.monotonic()
        self.info = None  # type: ignore[assignment]  # incoming messages have no delivery to wait for
        self.properties = None

    @property
    def topic(self) -> str:
        return self._text

    @topic.setter
    def topic(self, value: bytes) -> None:
        self._topic = value
        self._text = value.decode("utf-8")


class OutMessage(MQTTMessage):
    """paho's ``MQTTMessage`` for an outgoing publish, with a :class:`LeanInfo`.

    It lives in paho's ``_out_messages``, so paho's resend after a reconnect
    (with DUP) and ``drop_out_messages`` see it like any other.
    """

    __slots__ = ()

    def __init__(self, mid: int, topic: bytes, payload: bytes | bytearray, qos: int, retain: bool) -> None:
        self.mid = mid
        self._topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.dup = False
        self.state = mqtt.mqtt_ms_invalid
        self.timestamp = time.monotonic()
        self.info = LeanInfo(mid)
        self.properties = None


#: One condition for every :class:`LeanInfo`, used only while a thread waits on one.
_WAKE = threading.Condition()
_waiting = 0


class LeanInfo(MQTTMessageInfo):
    """paho's ``MQTTMessageInfo`` without a ``threading.Condition`` per publish.

    ``wait_for_publish`` waits on one shared condition, which is only notified
    while some thread is waiting, so the common case costs nothing.
    """

    __slots__ = ()

    def __init__(self, mid: int, rc: MQTTErrorCode = MQTTErrorCode.MQTT_ERR_SUCCESS) -> None:
        self.mid = mid
        self.rc = rc
        self._published = False
        self._condition = None  # type: ignore[assignment]
        self._iterpos = 0

    def _set_as_published(self) -> None:
        self._published = True
        if _waiting:
            with _WAKE:
                _WAKE.notify_all()

    def is_published(self) -> bool:
        self._check_rc()
        return self._published

    def wait_for_publish(self, timeout: float | None = None) -> None:
        global _waiting
        self._check_rc()
        deadline = None if timeout is None else time.monotonic() + timeout
        with _WAKE:
            _waiting += 1
            try:
                while not self._published:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        break
                    _WAKE.wait(left)
            finally:
                _waiting -= 1
        if self.rc > 0:
            raise RuntimeError(f"Message publish failed: {mqtt.error_string(self.rc)}")

    def _check_rc(self) -> None:
        if self.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            raise ValueError("Message is not queued due to ERR_QUEUE_SIZE")
        if self.rc > 0 and self.rc != MQTTErrorCode.MQTT_ERR_AGAIN:
            raise RuntimeError(f"Message publish failed: {mqtt.error_string(self.rc)}")
