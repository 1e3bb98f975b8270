"""Hostile input without a broker: the envelope's limits, the request queue's overflow policy, state files.

Every refusal is ``invalid_parameter`` naming ``payload`` or ``client_token``, and
keeps the token whenever the request carried a usable one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowengine.testing import FlowHarness
from nodes.flexapi import statefiles
from nodes.flexapi.envelope import MAX_DESC_CHARS, RequestError, decode_request, failure
from nodes.flexapi.groups import GROUPS
from nodes.flexapi.io_control import OUTPUT_KEYS
from nodes.flexapi.request_node import RequestNode

LIMIT = 64 * 1024


def refusal(raw: bytes) -> RequestError:
    with pytest.raises(RequestError) as caught:
        decode_request(raw, LIMIT)
    assert caught.value.code == "invalid_parameter"
    return caught.value


@pytest.mark.parametrize(
    ("member", "desc"),
    [
        ('"interval": 1e309', "payload: number 1e309 is out of range"),
        ('"interval": -1e309', "payload: number -1e309 is out of range"),
        ('"interval": 1' + "0" * 400, "payload: integer 1000"),
        ('"interval": 9223372036854775808', "payload: integer 9223372036854775808 is out of range"),
        ('"interval": NaN', "payload: not valid JSON (NaN"),
        ('"interval": -Infinity', "payload: not valid JSON (-Infinity"),
        ('"interval": 5, "interval": 6', "payload: key 'interval' appears more than once"),
        ('"a": {"b": 1, "b": 1}', "payload: key 'b' appears more than once"),
        ('"alias": "\\udc00"', "payload: a string is not valid Unicode"),
        ('"\\ud800": 1', "payload: a string is not valid Unicode"),
        ('"a": ' + "[" * 8 + "]" * 8, "payload: nesting deeper than 8 levels"),
        ('"a": ' + '{"b":' * 8 + "1" + "}" * 8, "payload: nesting deeper than 8 levels"),
    ],
)
def test_doubtful_json_is_refused_with_the_token(member: str, desc: str) -> None:
    exc = refusal(f'{{"client_token": "tok", {member}}}'.encode())
    assert exc.desc.startswith(desc), exc.desc
    assert exc.token == "tok"


def test_a_huge_integer_is_refused_quickly_without_python_s_digit_limit() -> None:
    assert "out of range" in refusal(b'{"client_token": "t", "i": ' + b"7" * 60_000 + b"}").desc


def test_extreme_but_valid_numbers_pass_and_minus_zero_is_zero() -> None:
    raw = b'{"client_token": "t", "a": -9223372036854775808, "b": 9223372036854775807, "c": -0, "d": 1e308, "e": -0.0}'
    token, body = decode_request(raw, LIMIT)
    assert token == "t"
    assert body == {"a": -(2**63), "b": 2**63 - 1, "c": 0, "d": 1e308, "e": 0.0}
    assert math.copysign(1, body["e"]) == -1 and isinstance(body["c"], int)


def test_an_escaped_surrogate_pair_is_a_valid_character() -> None:
    assert decode_request(b'{"client_token": "\\ud83d\\ude00"}', LIMIT) == ("\U0001f600", {})


@pytest.mark.parametrize(
    ("raw", "desc"),
    [
        (b'{"client_token": "a", "client_token": "b"}', "client_token: given more than once"),
        (b'{"client_token": "\\ud800"}', "client_token: not valid Unicode"),
        (b'{"client_token": 1e309}', "client_token: must be a string"),
        (b'{"client_token": null}', "client_token: must be a string, got null"),
        (b'{"client_token": "' + "é".encode() * 129 + b'"}', "client_token: longer than 256 bytes"),
        (b"\xef\xbb\xbf{}", "payload: not valid JSON"),  # a BOM is not JSON text
        (b"", "payload: not valid JSON"),
        (b"  ", "payload: not valid JSON"),
        (b"1e309", "payload: must be a JSON object, got a number"),
        (b'"\\ud800"', "payload: must be a JSON object, got a string"),
        (b"{}" * 2, "payload: not valid JSON"),
        (b"\xff\xfe{\x00}\x00", "payload: not UTF-8"),
    ],
)
def test_refusals_without_a_usable_token(raw: bytes, desc: str) -> None:
    exc = refusal(raw)
    assert exc.desc.startswith(desc), exc.desc
    assert exc.token is None


def test_a_token_of_exactly_256_bytes_is_kept() -> None:
    token = "é" * 128
    assert decode_request(json.dumps({"client_token": token}, ensure_ascii=False).encode(), LIMIT)[0] == token


def test_the_payload_limit_is_in_bytes_and_configurable() -> None:
    body = json.dumps({"client_token": "t", "pad": "x" * 2000}).encode()
    with pytest.raises(RequestError, match="exceeds the limit of 1024"):
        decode_request(body, 1024)
    assert decode_request(body, len(body))[0] == "t"


def test_error_descriptions_are_cut_to_a_sane_length() -> None:
    resp = failure("t", "invalid_parameter", "k" * 70_000)
    assert len(resp["error_desc"]) == MAX_DESC_CHARS and resp["error_desc"].endswith("...")


# -- generated hostile payloads ------------------------------------------------------------

HOSTILE_LITERALS = ["1e309", "-1e400", "1" + "0" * 400, "NaN", "Infinity", "-Infinity", '"\\udfff"', "[" * 9 + "]" * 9]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
member_texts = st.tuples(st.text(max_size=10), json_values).map(lambda kv: f"{json.dumps(kv[0])}: {json.dumps(kv[1])}")


@given(
    token=st.text(max_size=20),
    members=st.lists(member_texts, max_size=4),
    hostile=st.sampled_from(HOSTILE_LITERALS),
    where=st.integers(min_value=0, max_value=4),
)
def test_one_hostile_value_anywhere_refuses_the_request_and_keeps_the_token(
    token: str, members: list[str], hostile: str, where: int
) -> None:
    members = [m for m in members if not m.startswith('"client_token"')]
    members.insert(min(where, len(members)), f'"poison": {hostile}')
    raw = "{" + ", ".join([f'"client_token": {json.dumps(token)}', *members]) + "}"
    exc = refusal(raw.encode())
    assert exc.desc.startswith("payload: ")
    assert exc.token == token


@given(st.binary(max_size=400) | json_values.map(lambda v: json.dumps(v).encode()))
def test_anything_decodes_to_plain_safe_json_or_is_refused(raw: bytes) -> None:
    try:
        token, body = decode_request(raw, LIMIT)
    except RequestError as exc:
        assert exc.code == "invalid_parameter" and exc.desc.split(":")[0] in ("payload", "client_token")
        return
    text = json.dumps({"client_token": token, **body}, allow_nan=False, ensure_ascii=False)
    text.encode("utf-8")  # strict: no lone surrogate can reach a response or a state file


# -- the request queue's overflow policy ------------------------------------------------------


def request_flow() -> list[dict[str, Any]]:
    routes, outputs = ["group"], [[], ["answers"]]  # no route for these requests: each is answered not_found
    return [
        {"id": "req", "type": "flexapi request", "routes": routes, "wires": outputs},
        {"id": "answers", "type": "helper"},
    ]


def test_a_full_request_queue_answers_device_busy_and_drops_nothing(harness: FlowHarness) -> None:
    harness.deploy(request_flow())
    node = harness.node("req")
    root, extra = node.root, 25  # type: ignore[attr-defined]
    requests = [
        {"topic": f"{root}/nosuch/refresh", "payload": json.dumps({"client_token": f"t{i}"}).encode()}
        for i in range(RequestNode.inbox_limit + extra)
    ]
    harness.loop.call_soon_threadsafe(lambda: [harness.runtime.inject("req", m) for m in requests])
    answers = [m["payload"] for m in harness.received("answers", len(requests))]
    busy = [a for a in answers if a["error"] == "device_busy"]
    assert len(busy) == extra and node.overflowed == extra  # type: ignore[attr-defined]
    assert {a["client_token"] for a in busy} == {f"t{i}" for i in range(RequestNode.inbox_limit, len(requests))}
    assert sum(a["error"] == "not_found" for a in answers) == RequestNode.inbox_limit
    assert node.dropped == 0


def test_an_overflowed_request_without_a_usable_token_is_still_answered(harness: FlowHarness) -> None:
    harness.deploy(request_flow())
    topic = f"{harness.node('req').root}/x/refresh"  # type: ignore[attr-defined]
    fill = [{"topic": topic, "payload": b"{}"}] * RequestNode.inbox_limit
    late = {"topic": topic, "payload": b"\xff"}
    harness.loop.call_soon_threadsafe(lambda: [harness.runtime.inject("req", m) for m in [*fill, late]])
    answers = [m["payload"] for m in harness.received("answers", len(fill) + 1)]
    assert {"error": "device_busy", "error_desc": "x/refresh: too many requests waiting"} in answers


# -- state files written by anyone (hand edits, old versions, disk errors) ---------------------


def write_state(state: Path, name: str, value: Any) -> None:
    path = state / "flexapi" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values)
def test_any_json_in_a_state_file_loads_as_valid_state_or_defaults(tmp_path: Path, value: Any) -> None:
    for name in ("groups/gnss.json", "custom_groups.json", "userdata.json", "io_outputs.json", "app.json"):
        write_state(tmp_path, name, value)
    gnss = statefiles.load_group_settings(tmp_path, GROUPS["gnss"])
    assert 0 <= gnss.interval <= 3600
    assert isinstance(statefiles.load_custom_groups(tmp_path), dict)
    values, _ = statefiles.load_userdata(tmp_path, GROUPS["userdata"])
    assert all(k.startswith("userdata.") for k in values)
    outputs = statefiles.load_io_outputs(tmp_path, OUTPUT_KEYS)
    assert all(k in OUTPUT_KEYS and v in (0, 1) for k, v in outputs.items())
    app = statefiles.load_app(tmp_path)
    assert all(isinstance(v, (str, int, float)) for v in app.values())


def test_an_io_outputs_file_of_the_wrong_shape_is_logged_and_ignored(tmp_path: Path, caplog) -> None:
    write_state(tmp_path, "io_outputs.json", [1, 0])
    assert statefiles.load_io_outputs(tmp_path, OUTPUT_KEYS) == {}
    write_state(tmp_path, "io_outputs.json", {"io.DO1": 1, "io.DO2": 7, "io.DO3": True})
    assert statefiles.load_io_outputs(tmp_path, OUTPUT_KEYS) == {"io.DO1": 1}
    assert "STATE FILE INVALID: io_outputs.json" in caplog.text
