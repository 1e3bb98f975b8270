"""The function node's wire format: JSON with bytes marked, golden texts both ways."""

from __future__ import annotations

import pytest

from nodes.core.javascript.wire import decode, encode


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"payload": b"hi"}, b'{"payload":{"\\u0000b":"aGk="}}'),
        ({"a": [b"", bytearray(b"\x00\xff")]}, b'{"a":[{"\\u0000b":""},{"\\u0000b":"AP8="}]}'),
        ({"n": float("nan"), "i": float("inf")}, b'{"n":null,"i":null}'),
        ({"big": 2**70, "nan": float("nan")}, b'{"big":1180591620717411303424,"nan":null}'),
        ({1: "int key"}, b'{"1":"int key"}'),
        ({"t": "line\nbreak", "s": "é"}, b'{"t":"line\\nbreak","s":"\xc3\xa9"}'),
    ],
)
def test_encode(value: object, text: bytes) -> None:
    assert encode(value) == text
    assert b"\n" not in encode(value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (b'{"payload":{"\\u0000b":"aGk="}}', {"payload": b"hi"}),
        (b'{"ports":[[{"p":{"\\u0000b":"AP8="}}],null]}', {"ports": [[{"p": b"\x00\xff"}], None]}),
        (b'{"lone":"\\ud800"}', {"lone": "\ud800"}),
        (b'{"like":{"\\u0000b":"aGk=","other":1}}', {"like": {"\x00b": "aGk=", "other": 1}}),
        (b'{"type":"Buffer","data":[1]}', {"type": "Buffer", "data": [1]}),
    ],
)
def test_decode(text: bytes, value: object) -> None:
    assert decode(text) == value


def test_values_json_cannot_hold_are_refused_by_name() -> None:
    with pytest.raises(TypeError, match="a object cannot be passed to JavaScript"):
        encode({"x": object()})
