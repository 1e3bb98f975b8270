"""mqtt in/out payload codecs on orjson give what the json module gave (generated payloads)."""

from __future__ import annotations

import datetime
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from flowengine.mqtt.subscriptions import Received
from nodes.core.mqtt_in import decode_payload
from nodes.core.mqtt_out import encode_payload

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**80), 2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _reference_auto_detect(data: bytes) -> Any:
    """What mqtt in did with json alone."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return bytes(data)
    try:
        return json.loads(text, parse_constant=_refuse)
    except ValueError:
        return text


def _refuse(name: str) -> Any:
    raise ValueError(name)


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (1 and 1.0 differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


payloads = (
    st.binary(max_size=60)
    | st.text(max_size=40).map(str.encode)
    | json_values.map(lambda v: json.dumps(v, ensure_ascii=False).encode())
    | json_values.map(lambda v: json.dumps(v, indent=1).encode())
    | st.sampled_from([b"NaN", b"1e400", b'"\\ud800"', b"\xef\xbb\xbf[1]", b"[1,]", b" 12 ", b"00", b"-0"])
)


@settings(max_examples=400, deadline=None)
@given(data=payloads)
def test_auto_detect_decodes_as_json_did(data: bytes) -> None:
    assert _same(decode_payload(Received(data, 1), "auto-detect"), _reference_auto_detect(data))


@settings(max_examples=300, deadline=None)
@given(value=json_values.filter(lambda v: isinstance(v, (dict, list))))
def test_json_encoding_reads_back_as_json_wrote_it(value: Any) -> None:
    ours = encode_payload(value)
    reference = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    assert _same(json.loads(ours), json.loads(reference))


def test_json_encoding_details() -> None:
    assert encode_payload({"n": 1, "t": "é"}) == '{"n":1,"t":"é"}'.encode()  # compact UTF-8
    assert encode_payload({"x": float("nan"), "y": float("inf")}) == b'{"x":null,"y":null}'  # as JSON.stringify
    assert encode_payload({1: True}) == b'{"1":true}'  # non-text keys: json's way
    assert encode_payload([2**70]) == b"[1180591620717411303424]"
    assert encode_payload({"at": datetime.date(2026, 1, 2), "raw": b"\x01"}) == (
        b'{"at":"2026-01-02","raw":{"type":"Buffer","data":[1]}}'
    )
