"""Unit tests of the pure FlexAPI parts: parameter table, topics, envelope, settings, limits, operations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowengine.errors import FlowConfigError
from nodes.flexapi import configfile, statefiles
from nodes.flexapi.control import parse_app_control, parse_io_control
from nodes.flexapi.customdefs import parse_group_set
from nodes.flexapi.envelope import MAX_DEPTH, RequestError, decode_request, failure, success
from nodes.flexapi.groups import GROUPS, custom_name_problem
from nodes.flexapi.params import JSON_TYPES, PARAMS, canonical, conforms
from nodes.flexapi.ratelimit import RetryLimiter
from nodes.flexapi.settings import Settings, build_view, parse_settings_change, ts_keys_for
from nodes.flexapi.topics import parse_request_topic, request_filters, retry_interval, topic_root
from nodes.flexapi.userdata_ops import apply_operation, userdata_operation


def error_of(fn, *args):  # type: ignore[no-untyped-def]
    with pytest.raises(RequestError) as info:
        fn(*args)
    return info.value


# -- parameter table ------------------------------------------------------------------


def test_every_parameter_has_a_known_type_a_description_and_a_conforming_example() -> None:
    for param in PARAMS.values():
        assert param.type in JSON_TYPES and param.description, param.key
        assert conforms(param, param.example), param.key


def test_table_counts_follow_appendix_a() -> None:
    def count(prefix: str) -> int:
        return sum(1 for p in PARAMS.values() if p.prefix == prefix)

    assert (count("gnss"), count("motion"), count("io"), count("sysinfo"), count("app")) == (13, 10, 27, 14, 2)
    assert count("1-wire") == 1 + 4 + 4 * 3 + 4


def test_json_types_are_checked() -> None:
    assert conforms(PARAMS["obd.speed"], 20) and not conforms(PARAMS["obd.speed"], 20.5)
    assert not conforms(PARAMS["obd.mil"], True) and conforms(PARAMS["obd.mil"], 1)
    assert not conforms(PARAMS["gnss.heading"], 361.0) and conforms(PARAMS["gnss.latitude"], None)
    assert not conforms(PARAMS["gnss.date"], 20200417)


def test_do_alias_spelling_is_canonicalised() -> None:
    assert canonical("io.D01") == "io.DO1" and canonical("io.D04_pullup") == "io.DO4_pullup"
    assert canonical("io.D05") == "io.D05"


def test_groups_own_their_keys() -> None:
    assert GROUPS["summary"].owns("motion.ax") and not GROUPS["summary"].owns("modem1.imei")
    assert GROUPS["cellular1"].owns("modem1.imei") and GROUPS["cellular1"].owns("cellular1.ip")
    assert GROUPS["userdata"].owns("userdata.anything") and not GROUPS["userdata"].owns("gnss.fix")
    assert GROUPS["cellular1"].ts_keys() == ["modem1.ts", "cellular1.ts"]


def test_custom_group_names() -> None:
    assert custom_name_problem("fleet_1.a-b") is None
    assert custom_name_problem("summary") and custom_name_problem("group") and custom_name_problem("a/b")
    assert custom_name_problem("x" * 65) and custom_name_problem("") and custom_name_problem(5)


# -- topics ---------------------------------------------------------------------------


def test_topics() -> None:
    assert topic_root("dev") == "v1/dev" and topic_root("dev", "/fleet/") == "fleet/v1/dev"
    assert parse_request_topic("v1/dev", "v1/dev/gnss/refresh") == ("gnss", "refresh")
    assert parse_request_topic("v1/dev", "v1/dev/gnss/refresh/resp") is None
    assert parse_request_topic("v1/dev", "v1/other/gnss/set") is None
    assert retry_interval("io", "control") == 5.0 and retry_interval("app", "control") == 1.0
    assert all(not f.endswith("#") for f in request_filters("v1/dev"))


# -- envelope -------------------------------------------------------------------------


def test_decode_request_returns_token_and_body() -> None:
    assert decode_request(b'{"client_token": "t", "interval": 5}', 1024) == ("t", {"interval": 5})


@pytest.mark.parametrize(
    ("raw", "desc"),
    [
        (b"x" * 2000, "payload: 2000 bytes exceeds"),
        (b"\x80", "payload: not UTF-8"),
        (b"{", "payload: not valid JSON"),
        (b"null", "payload: must be a JSON object, got null"),
        (b'{"interval": Infinity, "client_token": "t"}', "payload: not valid JSON"),
        (b"{}", "client_token: required"),
        (b'{"client_token": ["t"]}', "client_token: must be a string"),
        (b"[" * 3000 + b"]" * 3000, "payload: nesting"),
    ],
)
def test_decode_request_rejects(raw: bytes, desc: str) -> None:
    assert error_of(decode_request, raw, 64 * 1024 if len(raw) > 2000 else 1024).desc.startswith(desc)


def test_nesting_limit_keeps_the_token() -> None:
    deep = {"client_token": "t", "a": json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)}
    exc = error_of(decode_request, json.dumps(deep).encode(), 4096)
    assert (exc.token, exc.code) == ("t", "invalid_parameter")


@given(st.binary(max_size=300))
def test_any_bytes_decode_or_fail_cleanly(raw: bytes) -> None:
    try:
        token, body = decode_request(raw, 256)
    except RequestError as exc:
        assert exc.code == "invalid_parameter" and exc.desc
    else:
        assert isinstance(token, str) and isinstance(body, dict)


def test_responses_have_exactly_result_or_error() -> None:
    assert success("t", {"a": 1}) == {"client_token": "t", "result": {"a": 1}}
    assert failure(None, "not_found", "x") == {"error": "not_found", "error_desc": "x"}


# -- settings and views ---------------------------------------------------------------


def test_settings_change_cases() -> None:
    owns = GROUPS["obd"].owns
    assert parse_settings_change({"interval": 0}, owns, "obd") == {"interval": 0}
    assert parse_settings_change({"interest": {"obd.rpm": "r"}}, owns, "obd") == {"interest": {"obd.rpm": "r"}}
    assert error_of(parse_settings_change, {"interval": -1}, owns, "obd").desc.startswith("interval")
    assert error_of(parse_settings_change, {"interest": {"x": ""}}, owns, "obd").desc.startswith("interest.x")
    too_many = {f"obd.k{i}": "" for i in range(257)}
    assert error_of(parse_settings_change, {"interest": too_many}, lambda k: True, "obd").desc.startswith("interest:")


def test_view_aliases_omits_invalid_and_adds_stamps() -> None:
    interest = {"gnss.latitude": "lat", "gnss.fix": ""}
    values = {"gnss.ts": 9, "gnss.latitude": 1.5, "gnss.fix": None}
    assert ts_keys_for(interest, ("gnss", "obd")) == ["gnss.ts"]
    assert build_view(interest, values, False, ["gnss.ts"]) == ({"gnss.ts": 9, "lat": 1.5}, True)
    assert build_view(interest, values, True) == ({"lat": 1.5, "gnss.fix": None}, True)
    assert build_view({"gnss.fix": ""}, values, False, ["gnss.ts"]) == ({"gnss.ts": 9}, False)


def test_settings_applied() -> None:
    assert Settings(10).applied({"interval": 3}) == Settings(3)


# -- custom groups --------------------------------------------------------------------


def test_group_set_create_update_remove() -> None:
    groups, result = parse_group_set({"settings": [{"group_name": "a", "interest": {"io.AI1": "ai"}}]}, {})
    assert groups == {"a": Settings(10, {"io.AI1": "ai"})} and result[0]["interval"] == 10
    groups, _ = parse_group_set({"settings": [{"group_name": "a", "interval": 5}]}, groups)
    assert groups["a"] == Settings(5, {"io.AI1": "ai"})
    groups, result = parse_group_set({"settings": [{"group_name": "a", "interest": None}]}, groups)
    assert groups == {} and result == [{"group_name": "a", "interest": None}]


@pytest.mark.parametrize(
    ("settings", "code", "desc"),
    [
        ([], "invalid_parameter", "settings"),
        ([{"group_name": "a"}], "invalid_parameter", "settings[0].interest: required"),
        ([{"group_name": "a", "interest": None}], "not_found", "settings[0].group_name"),
        ([{"group_name": "a", "interest": {"io.AI1": ""}}] * 2, "invalid_parameter", "settings[1].group_name"),
        ([{"group_name": "a", "interest": {"nope.x": ""}}], "invalid_parameter", "settings[0].interest.nope.x"),
        ([{"group_name": "a", "interest": {"io.AI1": ""}, "color": 1}], "invalid_parameter", "settings[0].color"),
    ],
)
def test_group_set_rejects(settings: list[object], code: str, desc: str) -> None:
    exc = error_of(parse_group_set, {"settings": settings}, {})
    assert exc.code == code and exc.desc.startswith(desc)


# -- userdata, control, retry limit ---------------------------------------------------


def test_userdata_operations() -> None:
    assert userdata_operation({"insert": {}}) == "insert" and userdata_operation({"interval": 5}) == "settings"
    assert error_of(userdata_operation, {"insert": {}, "delete": {}}).desc.startswith("insert")
    values, result = apply_operation("insert", {"userdata.a": 1}, {})
    assert values == {"userdata.a": 1} and result == {"inserted": {"userdata.a": 1}}
    assert error_of(apply_operation, "insert", {"userdata.a": 2}, values).code == "invalid_parameter"
    assert error_of(apply_operation, "delete", {"userdata.b": 2}, values).code == "not_found"
    assert error_of(apply_operation, "insert", {"userdata.c": {"x": 1}}, values).desc.startswith("insert.userdata.c")
    assert error_of(apply_operation, "insert", {"bad key": 1}, values).desc.startswith("insert.bad key")


def test_io_and_app_control_parsing() -> None:
    assert parse_io_control({"io.D01": 1, "io.DO2_pullup": 0}) == {"io.DO1": 1, "io.DO2_pullup": 0}
    assert error_of(parse_io_control, {"io.D01": 1, "io.DO1": 0}).desc.startswith("io.DO1")
    assert error_of(parse_io_control, {}).code == "invalid_parameter"
    assert parse_app_control({"app.x": "go"}, ["app.x"]) == {"app.x": "go"}
    assert error_of(parse_app_control, {"app.wifi_mode_2g": 2}, []).desc.startswith("app.wifi_mode_2g")


def test_retry_limiter_counts_accepted_requests_only() -> None:
    now = [0.0]
    limiter = RetryLimiter(lambda: now[0])
    first = limiter.admit("t", 1.0)
    assert first is not None and limiter.admit("t", 1.0) is None
    limiter.settle(first, accepted=False)
    second = limiter.admit("t", 1.0)
    assert second is not None
    limiter.settle(second, accepted=True)
    now[0] = 0.99
    assert limiter.admit("t", 1.0) is None and limiter.admit("u", 1.0) is not None
    now[0] = 1.0
    assert limiter.admit("t", 1.0) is not None


# -- config file and state files ------------------------------------------------------


def test_config_export_import_restore(tmp_path: Path) -> None:
    data = configfile.export_config(tmp_path)
    data["groups"]["gnss"] = {"interval": 5, "interest": {"gnss.fix": "fix"}}
    data["custom_groups"] = [{"group_name": "g", "interval": 1, "interest": {"io.AI1": ""}}]
    data["userdata"] = {"interval": 20, "interest": None, "values": {"userdata.a": "b"}}
    configfile.import_config(tmp_path, data)
    assert configfile.export_config(tmp_path) == data
    configfile.restore_defaults(tmp_path)
    assert configfile.export_config(tmp_path)["custom_groups"] == []
    assert configfile.export_config(tmp_path)["groups"]["gnss"] == {"interval": 10, "interest": None}


def test_config_import_is_all_or_nothing(tmp_path: Path) -> None:
    data = configfile.export_config(tmp_path)
    data["groups"]["gnss"] = {"interval": 5}
    data["custom_groups"] = [{"group_name": "summary", "interest": {"io.AI1": ""}}]
    with pytest.raises(FlowConfigError, match=r"custom_groups\[0\]\.group_name"):
        configfile.import_config(tmp_path, data)
    assert configfile.export_config(tmp_path)["groups"]["gnss"]["interval"] == 10
    with pytest.raises(FlowConfigError, match="format"):
        configfile.import_config(tmp_path, {"groups": {}})


def test_invalid_state_file_falls_back_to_defaults(tmp_path: Path) -> None:
    statefiles.save(tmp_path, statefiles.group_file("gnss"), {"interval": "soon"})
    assert statefiles.load_group_settings(tmp_path, GROUPS["gnss"]) == Settings(10)
