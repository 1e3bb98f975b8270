"""The pure parts of the MQTT package and nodes: back-off, outbox, matching, topics, payload codecs."""

from __future__ import annotations

import pytest

from flowengine.errors import NodeError
from flowengine.mqtt import Backoff, MemoryOutbox, Outgoing, Subscription, filter_problem, subscriptions, topic_problem
from flowengine.mqtt.subscriptions import Received, SubscriptionTable
from nodes.core.mqtt_in import decode_payload
from nodes.core.mqtt_out import encode_payload


def test_backoff_doubles_to_the_cap_within_jitter() -> None:
    low = Backoff(0.5, 30, jitter=0.2, rand=lambda: 0.0)
    high = Backoff(0.5, 30, jitter=0.2, rand=lambda: 1.0)
    assert [round(low.next(), 3) for _ in range(8)] == [0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 24.0, 24.0]
    assert [round(high.next(), 3) for _ in range(8)] == [0.6, 1.2, 2.4, 4.8, 9.6, 19.2, 36.0, 36.0]
    low.reset()
    assert round(low.next(), 3) == 0.4


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="first"):
        Backoff(0, 1)
    with pytest.raises(ValueError, match="jitter"):
        Backoff(1, 2, jitter=1.5)


def test_memory_outbox_is_fifo_and_evicts_the_oldest() -> None:
    box = MemoryOutbox(limit=2)
    items = [Outgoing("t", str(i).encode(), 1) for i in range(3)]
    assert box.put(items[0]) is None
    assert box.put(items[1]) is None
    assert box.put(items[2]) is items[0]
    assert box.peek() is items[1]
    box.ack()
    assert box.peek() is items[2] and len(box) == 1


def test_subscription_table_matches_wildcards_and_shares_filters() -> None:
    table = SubscriptionTable()
    a = Subscription("v1/+/gnss/info", 0, lambda t, p: None)
    b = Subscription("v1/#", 1, lambda t, p: None)
    c = Subscription("v1/#", 0, lambda t, p: None)
    assert table.add(a) and table.add(b)
    assert not table.add(c)  # same filter, no higher QoS: nothing to tell the broker
    assert set(table.matching("v1/dev/gnss/info")) == {a, b, c}
    assert table.matching("v1/dev/obd/info") == (b, c)
    assert table.matching("v2/x") == ()
    assert not table.remove(b)  # c still uses v1/#
    assert table.qos("v1/#") == 0
    assert table.remove(c)
    assert table.matching("v1/dev/obd/info") == ()


def test_exact_filters_are_looked_up_not_scanned(monkeypatch: pytest.MonkeyPatch) -> None:
    table = SubscriptionTable()
    exact = [Subscription(f"v1/dev{n}/gnss/refresh/resp", 1, lambda t, p: None) for n in range(1000)]
    wild = Subscription("v1/+/event/notice", 1, lambda t, p: None)
    for sub in (*exact, wild):
        table.add(sub)
    calls: list[str] = []
    real = subscriptions.topic_matches_sub
    monkeypatch.setattr(subscriptions, "topic_matches_sub", lambda f, t: calls.append(f) or real(f, t))
    assert table.matching("v1/dev7/gnss/refresh/resp") == (exact[7],)
    assert table.matching("v1/dev7/event/notice") == (wild,)
    assert calls == ["v1/+/event/notice", "v1/+/event/notice"]  # the wildcard filter only
    assert table.remove(wild) and table.matching("v1/dev8/event/notice") == ()


@pytest.mark.parametrize(
    ("topic", "ok"),
    [("a/b", True), ("/", True), ("", False), ("a/+", False), ("a/#", False), ("a\x00b", False)],
)
def test_publish_topic_rules(topic: str, ok: bool) -> None:
    assert (topic_problem(topic) is None) is ok


@pytest.mark.parametrize(
    ("topic_filter", "ok"),
    [("a/#", True), ("#", True), ("+/b/+", True), ("a/#/b", False), ("a/b#", False), ("a+/b", False), ("", False)],
)
def test_filter_rules(topic_filter: str, ok: bool) -> None:
    assert (filter_problem(topic_filter) is None) is ok


def test_received_payload_is_bytes_with_flags() -> None:
    payload = Received(b"x", qos=1, retain=True)
    assert payload == b"x" and payload.qos == 1 and payload.retain


@pytest.mark.parametrize(
    ("datatype", "data", "expected"),
    [
        ("auto-detect", b'{"a": [1, 2]}', {"a": [1, 2]}),
        ("auto-detect", b"42", 42),
        ("auto-detect", b"hello", "hello"),
        ("auto-detect", b"NaN", "NaN"),
        ("auto-detect", b"\xff\xfe", b"\xff\xfe"),
        ("auto", b'{"a": 1}', '{"a": 1}'),
        ("auto", b"\xff", b"\xff"),
        ("utf8", b"caf\xc3\xa9", "café"),
        ("utf8", b"\xff", "\ufffd"),
        ("buffer", b"{}", b"{}"),
        ("json", b'["x"]', ["x"]),
        ("base64", b"hi!", "aGkh"),
    ],
)
def test_mqtt_in_payload_conversion(datatype: str, data: bytes, expected: object) -> None:
    value = decode_payload(Received(data), datatype)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("data", [b"{nope", b"\xff"])
def test_mqtt_in_json_rejects_what_is_not_json(data: bytes) -> None:
    with pytest.raises(NodeError, match="JSON"):
        decode_payload(data, "json")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"a": 1, "b": [True, None]}, b'{"a":1,"b":[true,null]}'),
        ([1, "é"], '[1,"é"]'.encode()),
        (b"\x00\x01", b"\x00\x01"),
        (bytearray(b"ab"), b"ab"),
        ("text", b"text"),
        (12.5, b"12.5"),
        (7, b"7"),
        (True, b"true"),
        (None, b""),
    ],
)
def test_mqtt_out_payload_encoding(payload: object, expected: bytes) -> None:
    assert encode_payload(payload) == expected
