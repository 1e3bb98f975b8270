"""One agent, two FlexAPI revisions: ul_ts, error codes, parameters, user data interval, input pull-ups.

Harness tests on a fake clock: each request is answered by the default flow's nodes
as the device config's ``[flexapi] revision`` says; 1.0.8 stays exactly as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flexapi_support import ROOT, Agent, FakeIoSource, device_config, start_agent

from flowengine.cli import build_parser, device_config_from
from flowengine.config import DeviceConfig
from flowengine.testing import wait_until
from nodes.flexapi.device_settings import flexapi_settings
from nodes.flexapi.envelope import PRECISE_CONDITIONS
from nodes.flexapi.params import ALL_PARAMS, PARAMS, conforms, params_for
from nodes.flexapi.revision import API_REVISIONS

WALL = 1_700_000_000  # the fake clock's wall time at start
TIMED = ("summary", "obd", "gnss", "motion", "io", "cellular1", "1-wire")
VALUES = {
    "gnss.ts": 11,
    "gnss.latitude": 40.5,
    "obd.ts": 12,
    "obd.speed": 50,
    "io.ts": 13,
    "io.AI1": 12.0,
    "motion.ts": 14,
    "motion.ax": 0.1,
    "modem1.ts": 15,
    "modem1.imei": "862104021247207",
    "cellular1.ts": 16,
    "cellular1.ip": "10.0.0.1",
    "1-wire.ts": 17,
    "1-wire.status": "Connected",
    "sysinfo.ts": 18,
    "sysinfo.hostname": "VG710",
}


def run(tmp_path: Path, revision: str) -> Iterator[Agent]:
    h = start_agent(tmp_path / "state", device_config(revision))
    try:
        yield Agent(h)
    finally:
        h.close()


@pytest.fixture
def v109(tmp_path: Path) -> Iterator[Agent]:
    yield from run(tmp_path, "1.0.9")


@pytest.fixture(params=["1.0.8", "1.0.9"])
def either(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Agent]:
    yield from run(tmp_path, request.param)


def revision_of(agent: Agent) -> str:
    return str(agent.h.node("flexapi-request").revision.name)  # type: ignore[attr-defined]


# -- ul_ts ------------------------------------------------------------------------------


def test_every_reserved_refresh_carries_ul_ts_under_109_only(either: Agent) -> None:
    either.feed(VALUES)
    either.request("userdata/set", {"insert": {"userdata.driver": "Ann"}})
    either.h.advance(3.7)
    stamped = revision_of(either) == "1.0.9"
    for group in (*TIMED, "userdata", "sysinfo", "app"):
        result = either.request(f"{group}/refresh")["result"]
        assert (f"{group}.ul_ts" in result) == stamped, (group, result)
        if stamped:
            assert result[f"{group}.ul_ts"] == WALL + 3 and type(result[f"{group}.ul_ts"]) is int
        assert not any(k.endswith(".ul_ts") and k != f"{group}.ul_ts" for k in result), result


def test_every_timer_upload_carries_ul_ts_under_109_only(either: Agent) -> None:
    either.feed(VALUES)
    either.request("userdata/set", {"insert": {"userdata.driver": "Ann"}})
    either.h.taken("flexapi-out")
    either.h.advance(30.0)  # every timed group reported at least once (cellular1 every 30 s)
    sent = either.h.taken("flexapi-out")
    stamped = revision_of(either) == "1.0.9"
    for group in (*TIMED, "userdata"):
        infos = [m["payload"] for m in sent if m["topic"] == f"{ROOT}/{group}/info"]
        assert infos, group
        assert all((f"{group}.ul_ts" in info) == stamped for info in infos), (group, infos)


def test_ul_ts_is_the_time_of_each_upload(v109: Agent) -> None:
    v109.feed({"gnss.ts": 5, "gnss.latitude": 1.0})
    v109.request("gnss/set", {"interval": 2, "interest": {"gnss.latitude": "lat"}})
    v109.h.taken("flexapi-out")
    v109.h.advance(4.0)
    assert v109.infos("gnss") == [
        {"gnss.ul_ts": WALL + 2, "gnss.ts": 5, "lat": 1.0},
        {"gnss.ul_ts": WALL + 4, "gnss.ts": 5, "lat": 1.0},
    ]


def test_custom_groups_carry_no_ul_ts(v109: Agent) -> None:
    v109.feed({"gnss.latitude": 1.0})
    v109.request("group/set", {"settings": [{"group_name": "trip", "interest": {"gnss.latitude": ""}}]})
    wait_until(lambda: "flexapi-custom-trip" in v109.h.runtime.nodes, what="custom group node")
    assert v109.request("trip/refresh")["result"] == {"gnss.latitude": 1.0}


# -- error codes ------------------------------------------------------------------------


def _seventeen() -> dict[str, Any]:
    return {"settings": [{"group_name": f"g{i}", "interest": {"io.AI1": ""}} for i in range(17)]}


#: (precise condition, how to provoke it) -> each is answered with its own code under 1.0.9
#: and with its 1.0.8 code under 1.0.8.
PROVOKE: list[tuple[str, str, dict[str, Any] | bytes]] = [
    ("over_group_num", "group/set", _seventeen()),
    ("over_data_num", "gnss/set", {"interest": {f"gnss.k{i}": "" for i in range(257)}}),
    ("over_data_num", "userdata/set", {"insert": {f"userdata.k{i}": i for i in range(257)}}),
    ("interval_invalid", "obd/set", {"interval": 3601}),
    ("interval_invalid", "motion/set", {"interval": 1.5}),
    ("interval_invalid", "group/set", {"settings": [{"group_name": "a", "interval": -1, "interest": {"io.AI1": ""}}]}),
    ("data_empty", "userdata/refresh", {}),
    ("invalid_token", "gnss/set", b'{"interval": 5}'),
    ("invalid_token", "gnss/refresh", b'{"client_token": 5}'),
    ("invalid_token", "io/refresh", json.dumps({"client_token": "x" * 257}).encode()),
    ("not_support", "sysinfo/set", {"interval": 5}),
    ("not_support", "app/set", {"app.wifi_mode_2g": 1}),
    ("not_support", "group/refresh", {}),
]


@pytest.mark.parametrize(("condition", "path", "body"), PROVOKE, ids=[f"{c}-{p}" for c, p, _ in PROVOKE])
def test_each_precise_condition_has_its_code_in_109_and_its_108_counterpart(
    either: Agent, condition: str, path: str, body: dict[str, Any] | bytes
) -> None:
    resp = either.request(path, raw=body) if isinstance(body, bytes) else either.request(path, body)
    wanted = condition if revision_of(either) == "1.0.9" else PRECISE_CONDITIONS[condition]
    assert resp["error"] == wanted, resp
    assert resp["error_desc"]


def test_find_same_key_and_its_108_counterpart(either: Agent) -> None:
    assert "result" in either.request("userdata/set", {"insert": {"userdata.a": 1}})
    either.wait_retry()
    resp = either.request("userdata/set", {"insert": {"userdata.a": 2}})
    assert resp["error"] == ("find_same_key" if revision_of(either) == "1.0.9" else "invalid_parameter")
    assert resp["error_desc"].startswith("insert.userdata.a")


def test_conditions_that_stay_as_they_were(v109: Agent) -> None:
    assert v109.request("obd/refresh")["error"] == "data_invalid"  # keys, no valid value
    assert v109.request("nosuch/refresh")["error"] == "not_found"
    assert v109.request("gnss/set", {"interest": {"obd.rpm": ""}})["error"] == "invalid_parameter"
    assert v109.request("io/refresh", raw=b"not json")["error"] == "invalid_parameter"
    assert v109.request("userdata/set", {"update": {"userdata.none": 1}})["error"] == "not_found"


def test_revision_maps_every_condition() -> None:
    old, new = API_REVISIONS["1.0.8"], API_REVISIONS["1.0.9"]
    for condition, code in PRECISE_CONDITIONS.items():
        assert (old.wire_code(condition), new.wire_code(condition)) == (code, condition)
    assert set(old.error_codes) < set(new.error_codes) and len(new.error_codes) == 13


# -- parameters -------------------------------------------------------------------------


def test_parameter_tables_of_both_revisions() -> None:
    new = params_for("1.0.9")
    added = set(new) - set(PARAMS)
    assert added == {
        "gnss.type",
        "gnss.acc_heading",
        "io.power_input",
        "io.igt_status",
        "modem1.submode",
        "sysinfo.power_management_version",
        "obd.status",
        "obd.protocol",
        "obd.bitrate",
        "obd.iftype",
    }
    assert set(PARAMS) - set(new) == {"obd.brake_prim_press", "obd.brake_sec_press"}
    assert conforms(new["modem1.network"], 4) and not conforms(PARAMS["modem1.network"], 4)
    assert conforms(new["gnss.acc_heading"], 360.0) and not conforms(new["gnss.acc_heading"], 361.0)
    assert conforms(new["io.power_input"], 36.0) and not conforms(new["io.power_input"], 36.5)
    assert conforms(new["obd.bitrate"], 250000) and not conforms(new["obd.bitrate"], 125000)
    assert not conforms(new["gnss.type"], "Galileo") and conforms(new["obd.protocol"], "J1939")
    assert set(ALL_PARAMS) == set(PARAMS) | set(new)
    assert all(conforms(p, p.example) for p in new.values())


def test_groups_carry_and_accept_the_parameters_of_their_revision(either: Agent) -> None:
    either.feed({"gnss.ts": 1, "gnss.latitude": 1.0, "gnss.type": "GPS+Beidou", "obd.ts": 2, "obd.status": "Connected"})
    is_109 = revision_of(either) == "1.0.9"
    assert ("gnss.type" in either.request("gnss/refresh")["result"]) == is_109
    assert ("obd.status" in either.request("summary/refresh")["result"]) == is_109
    new_key = either.request("gnss/set", {"interest": {"gnss.type": "kind"}}, token="a")
    assert ("result" in new_key) == is_109
    gone_key = either.request("obd/set", {"interest": {"obd.brake_prim_press": ""}}, token="b")
    assert ("result" in gone_key) == (not is_109)
    custom = {"settings": [{"group_name": "c", "interest": {"io.igt_status": ""}}]}
    assert ("result" in either.request("group/set", custom)) == is_109


def test_5g_is_reported_as_4g_where_the_revision_has_no_5g(either: Agent) -> None:
    """Sources speak the newest revision; a 1.0.8 platform never sees a network type beyond its range."""
    either.feed({"modem1.ts": 1, "modem1.network": 4})
    either.request("group/set", {"settings": [{"group_name": "radio", "interest": {"modem1.network": "net"}}]})
    wait_until(lambda: "flexapi-custom-radio" in either.h.runtime.nodes, what="custom group node")
    either.feed({"modem1.network": 4})
    expected = 4 if revision_of(either) == "1.0.9" else 3
    assert either.request("cellular1/refresh")["result"]["modem1.network"] == expected
    assert either.request("radio/refresh")["result"] == {"net": expected}


def test_state_written_under_one_revision_loads_under_the_other(tmp_path: Path) -> None:
    with start_agent(tmp_path / "state", device_config("1.0.9")) as h:
        assert "result" in Agent(h).request("gnss/set", {"interest": {"gnss.type": "kind", "gnss.latitude": ""}})
    with start_agent(tmp_path / "state", device_config("1.0.8")) as h:
        assert h.node("group-gnss").settings.interest == {"gnss.type": "kind", "gnss.latitude": ""}  # type: ignore[attr-defined]


# -- user data interval, input pull-ups -------------------------------------------------


def test_userdata_set_with_only_interval_sets_the_report_interval(either: Agent) -> None:
    either.request("userdata/set", {"insert": {"userdata.a": "x"}})
    either.wait_retry()
    assert either.request("userdata/set", {"interval": 3})["result"] == {"interval": 3}
    either.h.taken("flexapi-out")
    either.h.advance(6.0)
    infos = either.infos("userdata")
    assert len(infos) == 2 and all(i["userdata.a"] == "x" for i in infos)


def test_io_control_drives_input_pullups_under_109_only(either: Agent) -> None:
    io: FakeIoSource = either.h.node("source-io")  # type: ignore[assignment]
    resp = either.request("io/control", {"io.DI2_pullup": 1, "io.DO1": 1})
    if revision_of(either) == "1.0.9":
        assert resp["result"] == {"io.DI2_pullup": 1, "io.DO1": 1}
        assert io.applied == [{"io.DI2_pullup": 1, "io.DO1": 1}]
    else:
        assert (resp["error"], resp["error_desc"][:13]) == ("invalid_parameter", "io.DI2_pullup")
        assert io.applied == []


def test_input_pullups_are_restored_at_start(tmp_path: Path) -> None:
    with start_agent(tmp_path / "state", device_config("1.0.9")) as h:
        assert "result" in Agent(h).request("io/control", {"io.DI6_pullup": 0})
    with start_agent(tmp_path / "state", device_config("1.0.9")) as h:
        io: FakeIoSource = h.node("source-io")  # type: ignore[assignment]
        wait_until(lambda: io.applied == [{"io.DI6_pullup": 0}], what="pull-up restored")


# -- choosing the revision --------------------------------------------------------------


def test_revision_is_checked_in_the_device_config() -> None:
    with pytest.raises(ValueError, match=r"1\.0\.8"):
        device_config("1.0.7")
    assert flexapi_settings(DeviceConfig()).revision == "1.0.8"


def test_run_option_sets_the_revision(tmp_path: Path) -> None:
    parser = build_parser()
    chosen = parser.parse_args(["run", "--api-revision", "1.0.9", "--state-dir", str(tmp_path)])
    assert flexapi_settings(device_config_from(chosen)).revision == "1.0.9"
    default = parser.parse_args(["run", "--state-dir", str(tmp_path)])
    assert flexapi_settings(device_config_from(default)).revision == "1.0.8"
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--api-revision", "2.0"])
