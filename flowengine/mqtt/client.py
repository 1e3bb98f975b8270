"""paho's client with a buffered reader, a lean MQTT 3.1.1 hot path and coalesced writes.

paho stays in charge of the connection: CONNECT/CONNACK, auth, TLS, keepalive,
SUBSCRIBE, QoS 2, MQTT 5, and the in-flight bookkeeping that resends unacknowledged
QoS 1 messages (with DUP) after a reconnect. :class:`BufferedClient` replaces
only what costs most per message on a busy link:

- Reading: one ``recv`` of up to 64 KiB instead of three per packet; packets are
  cut out of that buffer. Reading pauses (as if the socket had no more data) once
  ``reading`` is switched off, so the link can handle a flood a slice per turn of
  the event loop while the nodes keep up.
- Incoming QoS 0/1 PUBLISH and PUBACK (MQTT 3.1.1) are decoded by
  :mod:`flowengine.mqtt.fastpath`, without paho's per-packet ``Properties``,
  ``ReasonCode`` and topic matcher. A QoS 1 message is acknowledged only after
  ``on_message`` returned.
- Outgoing QoS 0/1 PUBLISH and PUBACK are encoded by the fast path; the message
  paho keeps for a resend is built without a ``threading.Condition``.
- Writing: packets queued in one turn of the event loop go out in one ``send``, and
  what a read batch calls for (its PUBACKs) is written at the end of the batch, so the
  broker's window of unacknowledged QoS 1 messages reopens before the nodes run.

Writes are coalesced only while the client is driven from outside with
``loop_read``/``loop_write`` (as the link does, on its event loop) and then every
publish must come from that thread; under ``loop()``/``loop_start()`` paho queues
each packet as usual. The class overrides private parts of paho 2.2
(``_packet_read``, ``_packet_queue``, ``_send_publish``, the ``_in_packet`` and
``_out_packet`` records): :mod:`flowengine.mqtt.guard` checks them at start-up, and
on any other paho the link uses :class:`PublicClient` instead.
"""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.exception import MalformedPacket

from flowengine.mqtt.fastpath import (
    PUBACK,
    PUBACK_PROPERTIES,
    PUBACK_REASON,
    PUBLISH,
    InMessage,
    LeanInfo,
    OutMessage,
    decode_puback,
    decode_publish,
    encode_puback,
    encode_publish,
    packet_end,
)

#: Bytes asked of the kernel per read.
RECV_SIZE = 65536
#: Distinct publish topics kept checked and encoded (cleared when full).
TOPIC_CACHE_SIZE = 1024
#: Most bytes gathered into one queued write (bigger batches only cost copying on partial sends).
MERGE_LIMIT = 65536

_SUCCESS = MQTTErrorCode.MQTT_ERR_SUCCESS
_AGAIN = MQTTErrorCode.MQTT_ERR_AGAIN
_LOST = MQTTErrorCode.MQTT_ERR_CONN_LOST
_PROTOCOL = MQTTErrorCode.MQTT_ERR_PROTOCOL
_NO_CONN = MQTTErrorCode.MQTT_ERR_NO_CONN
_DISCONNECT = 0xE0


class PublicClient(mqtt.Client):
    """paho's ``Client`` through its public API only: what the link uses when the fast path may not run.

    It offers the two things the link asks of a client beyond paho's API: ``reading``
    (the link stops calling ``loop_read`` when it is switched off) and ``buffered()``
    (paho reads straight from the socket, so nothing ever waits in a buffer of ours).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reading = True

    def buffered(self) -> bool:
        return False


class BufferedClient(mqtt.Client):
    """A paho ``Client`` that reads through a buffer, pauses reading on demand and handles
    MQTT 3.1.1 PUBLISH/PUBACK itself."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reading = True
        self._rbuf = b""
        self._rpos = 0
        self._rsock: Any = None
        self._lean = self._protocol != MQTTProtocolVersion.MQTTv5
        self._filtered = False  # message_callback_add used: paho dispatches PUBLISH
        self._merge_tail: Any = None
        self._topics: dict[str, bytes] = {}  # publish topics checked and encoded

    def buffered(self) -> bool:
        """True when a complete packet waits in the buffer (the socket will not signal it again)."""
        if self._rsock is not self._sock or self._rpos >= len(self._rbuf):
            return False
        try:
            end = packet_end(self._rbuf, self._rpos)[1]
        except MalformedPacket:
            return True  # the next read reports it
        return 0 < end <= len(self._rbuf)

    def message_callback_add(self, sub: str, callback: Any) -> None:
        self._filtered = True  # per-filter callbacks are paho's business
        super().message_callback_add(sub, callback)

    # -- reading --------------------------------------------------------------------

    def _packet_read(self) -> MQTTErrorCode:
        """Handle every complete packet while ``reading``; MQTT_ERR_AGAIN once drained or paused.

        What the packets called for (PUBACKs above all) is written before returning, not
        after the nodes had their turn: the broker sends a subscriber only so many QoS 1
        messages ahead of their PUBACKs (mosquitto: 20), so early acks keep it sending.
        """
        before = self._rpos, self._rbuf
        rc = self._read_packets()
        if rc == _AGAIN and self._out_packet and (self._rpos, self._rbuf) != before and self._single_threaded():
            self.loop_write()
        return rc

    def _single_threaded(self) -> bool:
        """Driven from outside with loop_read/loop_write (the link), not by paho's loop()/loop_start()."""
        return self._thread is None and self._sockpairW is None

    def _read_packets(self) -> MQTTErrorCode:
        sock = self._sock
        if self._rsock is not sock:  # a new connection: forget the old one's bytes
            self._rsock, self._rbuf, self._rpos = sock, b"", 0
        while self.reading:
            buf, pos = self._rbuf, self._rpos
            try:
                start, end = packet_end(buf, pos)
            except MalformedPacket as exc:
                self._easy_log(mqtt.MQTT_LOG_DEBUG, "Received malformed packet: %s", exc)
                return _PROTOCOL
            if start == 0 or end > len(buf):
                rc = self._fill(end - pos)
                if rc != _SUCCESS:
                    return rc
                continue
            self._rpos = end
            rc = self._handle(buf[pos], buf, start, end)
            if rc or self._sock is not sock:
                return rc
        return _AGAIN

    def _fill(self, need: int) -> MQTTErrorCode:
        """Append what the socket has (at least ``need`` bytes asked for) to the unread rest."""
        try:
            data = mqtt.Client._sock_recv(self, max(RECV_SIZE, need))
        except BlockingIOError:
            return _AGAIN
        except OSError as err:
            self._easy_log(mqtt.MQTT_LOG_ERR, "failed to receive on socket: %s", err)
            return _LOST
        if not data:
            return _LOST
        rest = self._rbuf[self._rpos :] if self._rpos < len(self._rbuf) else b""
        self._rbuf, self._rpos = (rest + data if rest else data), 0
        with self._msgtime_mutex:
            self._last_bytes_received = mqtt.time_func()
        return _SUCCESS

    def _handle(self, first: int, buf: bytes, start: int, end: int) -> MQTTErrorCode:
        kind = first & 0xF0
        if self._lean:
            if kind == PUBLISH and not first & 0x04 and not self._filtered:  # QoS 0 or 1
                return self._publish_in(first, buf, start, end)
            if kind == PUBACK:
                return self._puback_in(buf, start, end)
        return self._paho_handle(first, buf[start:end])

    def _paho_handle(self, first: int, body: bytes) -> MQTTErrorCode:
        """Let paho handle a packet the fast path leaves alone (CONNACK, SUBACK, QoS 2, MQTT 5 ...)."""
        self._in_packet = _in_packet(first, bytearray(body))
        try:
            rc = self._packet_handle()
        except MalformedPacket as exc:
            self._easy_log(mqtt.MQTT_LOG_DEBUG, "Received malformed packet: %s", exc)
            rc = _PROTOCOL
        self._in_packet = _in_packet(0, bytearray())
        return rc

    def _publish_in(self, first: int, buf: bytes, start: int, end: int) -> MQTTErrorCode:
        try:
            raw, mid, payload = decode_publish(first, buf, start, end)
            topic = raw.decode("utf-8")
        except (MalformedPacket, UnicodeDecodeError) as exc:  # [MQTT-1.5.3-1]: close on bad UTF-8
            self._easy_log(mqtt.MQTT_LOG_DEBUG, "Received malformed packet: %s", exc)
            return _PROTOCOL
        message = InMessage(mid, raw, topic, payload, first)
        if self._logger is not None or self._on_log is not None:
            self._easy_log(
                mqtt.MQTT_LOG_DEBUG,
                "Received PUBLISH (d%d, q%d, r%d, m%d), '%s', ...  (%d bytes)",
                message.dup, message.qos, message.retain, mid, topic, len(payload),
            )  # fmt: skip
        on_message = self._on_message
        if on_message is not None:
            with self._in_callback_mutex:
                try:
                    on_message(self, self._userdata, message)
                except Exception as err:
                    self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_message: %s", err)
                    if not self.suppress_exceptions:
                        raise
        if mid and not self._manual_ack:  # QoS 1: acknowledged once the callback has it
            return self._packet_queue(PUBACK, encode_puback(mid), mid, 1)
        return _SUCCESS

    def _puback_in(self, buf: bytes, start: int, end: int) -> MQTTErrorCode:
        try:
            mid = decode_puback(buf, start, end)
        except MalformedPacket as exc:
            self._easy_log(mqtt.MQTT_LOG_DEBUG, "Received malformed packet: %s", exc)
            return _PROTOCOL
        with self._out_message_mutex:
            if mid in self._out_messages:  # paho's _do_on_publish, with the shared reason and properties
                return self._do_on_publish(mid, PUBACK_REASON, PUBACK_PROPERTIES)
        return _SUCCESS

    # -- writing --------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        payload: Any = None,
        qos: int = 0,
        retain: bool = False,
        properties: Any = None,
    ) -> mqtt.MQTTMessageInfo:
        """paho's ``publish``; MQTT 3.1.1 QoS 0/1 without the per-message ``threading.Condition``."""
        if not self._lean or qos not in (0, 1) or properties is not None:
            return super().publish(topic, payload, qos, retain, properties)
        topic_bytes = self._topics.get(topic)
        if topic_bytes is None:
            topic_bytes = self._encode_topic(topic)
        data = payload if type(payload) is bytes else mqtt._encode_payload(payload)
        if len(data) > 268435455:
            raise ValueError("Payload too large.")
        mid = self._mid_generate()
        if qos == 0:
            info = LeanInfo(mid)
            info.rc = self._send_publish(mid, topic_bytes, data, 0, retain, False, info)
            return info
        return self._publish_qos1(OutMessage(mid, topic_bytes, data, qos, retain))

    def _encode_topic(self, topic: str) -> bytes:
        """paho's topic checks, once per distinct topic (a device publishes to a few)."""
        if not topic:
            raise ValueError("Invalid topic.")
        topic_bytes = topic.encode("utf-8")
        self._raise_for_invalid_topic(topic_bytes)
        if len(self._topics) >= TOPIC_CACHE_SIZE:
            self._topics.clear()
        self._topics[topic] = topic_bytes
        return topic_bytes

    def _publish_qos1(self, message: OutMessage) -> mqtt.MQTTMessageInfo:
        """paho's QoS 1 bookkeeping: the message waits in ``_out_messages`` until its PUBACK."""
        info = message.info
        with self._out_message_mutex:
            full = 0 < self._max_queued_messages <= len(self._out_messages)
            if full or message.mid in self._out_messages:
                info.rc = MQTTErrorCode.MQTT_ERR_QUEUE_SIZE
                return info
            self._out_messages[message.mid] = message
            if self._max_inflight_messages and self._inflight_messages >= self._max_inflight_messages:
                message.state = mqtt.mqtt_ms_queued  # paho sends it when a slot frees up
                return info
            self._inflight_messages += 1
            message.state = mqtt.mqtt_ms_wait_for_puback
            rc = self._send_publish(message.mid, message._topic, message.payload, 1, message.retain, False, info)
            if rc == _NO_CONN:  # paho sends it after the next CONNACK
                self._inflight_messages -= 1
                message.state = mqtt.mqtt_ms_publish
            info.rc = rc
        return info

    def _send_publish(
        self,
        mid: int,
        topic: bytes,
        payload: bytes | bytearray = b"",
        qos: int = 0,
        retain: bool = False,
        dup: bool = False,
        info: mqtt.MQTTMessageInfo | None = None,
        properties: Any = None,
    ) -> MQTTErrorCode:
        """Every PUBLISH paho sends (first send and resends) is encoded here on MQTT 3.1.1."""
        if not self._lean:
            return super()._send_publish(mid, topic, payload, qos, retain, dup, info, properties)
        if not isinstance(topic, bytes):
            raise TypeError("topic must be bytes, not str")
        if payload and not isinstance(payload, (bytes, bytearray)):
            raise TypeError("payload must be bytes if set")
        if self._sock is None:
            return _NO_CONN
        if self._logger is not None or self._on_log is not None:
            self._easy_log(
                mqtt.MQTT_LOG_DEBUG,
                "Sending PUBLISH (d%d, q%d, r%d, m%d), '%s', ... (%d bytes)",
                dup, qos, retain, mid, topic, len(payload),
            )  # fmt: skip
        packet = encode_publish(topic, payload or b"", qos, retain, dup, mid)
        return self._packet_queue(PUBLISH, packet, mid, qos, info)

    def _packet_queue(
        self,
        command: int,
        packet: bytes | bytearray,
        mid: int,
        qos: int,
        info: mqtt.MQTTMessageInfo | None = None,
    ) -> MQTTErrorCode:
        """paho's write queue, but a packet joins the last queued one when neither needs a
        callback once written (QoS 0 PUBLISH, DISCONNECT), so a burst goes out in one ``send``."""
        out = self._out_packet
        if not out or not self._single_threaded() or not _mergeable(command, qos):
            return super()._packet_queue(command, packet, mid, qos, info)
        tail = out[-1]
        if tail["to_process"] + len(packet) > MERGE_LIMIT or not _mergeable(tail["command"], tail["qos"]):
            return super()._packet_queue(command, packet, mid, qos, info)
        if tail is not self._merge_tail:
            tail["packet"] = bytearray(tail["packet"])
            self._merge_tail = tail
        tail["packet"] += packet
        tail["to_process"] += len(packet)
        if self._on_socket_register_write is None and self._in_callback_mutex.acquire(False):
            self._in_callback_mutex.release()
            return self.loop_write()
        self._call_socket_register_write()
        return _SUCCESS


def _mergeable(command: int, qos: int) -> bool:
    """False for packets paho acts on once written: QoS 0 PUBLISH (on_publish) and DISCONNECT."""
    kind = command & 0xF0
    return kind != _DISCONNECT and not (kind == PUBLISH and qos == 0)


def _in_packet(command: int, body: bytearray) -> Any:
    """paho's record of the packet being read, as ``_packet_handle`` expects it."""
    return {
        "command": command,
        "have_remaining": 1 if command else 0,
        "remaining_count": [],
        "remaining_mult": 1,
        "remaining_length": len(body),
        "packet": body,
        "to_process": 0,
        "pos": 0,
    }
