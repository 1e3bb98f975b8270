"""Harness tests of the FlexAPI nodes: the default flow's handlers, fed requests and source values directly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flexapi_support import Agent, FakeIoSource, start_agent

from flowengine.config import DeviceConfig
from flowengine.testing import wait_until
from nodes.flexapi import statefiles


@pytest.fixture
def device() -> DeviceConfig:
    return DeviceConfig.model_validate({"mqtt": {"client_id": "dev1"}})


@pytest.fixture
def agent(tmp_path: Path, device: DeviceConfig) -> Iterator[Agent]:
    h = start_agent(tmp_path / "state", device)
    try:
        yield Agent(h)
    finally:
        h.close()


@pytest.fixture
def outputs(agent: Agent) -> FakeIoSource:
    return agent.h.node("source-io")  # type: ignore[return-value]


def test_refresh_of_a_reserved_group_reports_the_latest_values_with_stamp(agent: Agent) -> None:
    agent.feed({"gnss.ts": 100, "gnss.latitude": 40.5, "gnss.longitude": 116.3, "gnss.fix": None})
    resp = agent.request("gnss/refresh")
    assert resp == {"client_token": "t1", "result": {"gnss.ts": 100, "gnss.latitude": 40.5, "gnss.longitude": 116.3}}


def test_refresh_without_any_valid_value_is_data_invalid(agent: Agent) -> None:
    resp = agent.request("obd/refresh")
    assert resp["error"] == "data_invalid"
    assert "obd" in resp["error_desc"]


def test_set_cases_echo_what_was_applied_and_the_view_follows(agent: Agent) -> None:
    agent.feed({"motion.ts": 5, "motion.ax": 0.25, "motion.ay": 0.5, "motion.az": None})
    assert agent.request("obd/set", {"interval": 0}) == {"client_token": "t1", "result": {"interval": 0}}
    assert agent.request("summary/set", {"interval": 60})["result"] == {"interval": 60}
    interest = {"motion.ax": "accel_x", "motion.az": ""}
    assert agent.request("motion/set", {"interest": interest}, token="t2") == {
        "client_token": "t2",
        "result": {"interest": interest},
    }
    assert agent.request("gnss/set", {"interval": 30, "interest": {"gnss.fix": "fix"}})["result"] == {
        "interval": 30,
        "interest": {"gnss.fix": "fix"},
    }
    assert agent.request("motion/refresh")["result"] == {"motion.ts": 5, "accel_x": 0.25}
    assert agent.h.node("group-obd").settings.interval == 0
    assert agent.h.node("group-motion").settings.interval == 10


def test_settings_errors_name_the_field_and_change_nothing(agent: Agent, tmp_path: Path) -> None:
    bad = [
        ({"interval": 3601}, "interval"),
        ({"interval": 1.5}, "interval"),
        ({"interval": True}, "interval"),
        ({"interest": {"gnss.latitude": "lat"}}, "interest.gnss.latitude"),
        ({"interest": {"obd.rpm": 5}}, "interest.obd.rpm"),
        ({"interest": {}}, "interest"),
        ({"interest": {"obd.rpm": "x", "obd.speed": "x"}}, "interest.obd.speed"),
        ({"color": "red"}, "color"),
        ({}, "interval"),
    ]
    for index, (body, field) in enumerate(bad):
        resp = agent.request("obd/set", body, token=f"b{index}")
        assert resp["error"] == "invalid_parameter", body
        assert resp["error_desc"].startswith(field), resp
        assert resp["client_token"] == f"b{index}"
    assert not (tmp_path / "state" / "flexapi" / "groups" / "obd.json").exists()


def test_reserved_group_interest_must_belong_to_the_group(agent: Agent) -> None:
    assert agent.request("summary/set", {"interest": {"gnss.latitude": "", "io.DI1": "", "motion.ax": ""}})["result"]
    resp = agent.request("cellular1/set", {"interest": {"modem1.imei": "", "cellular1.ip": "", "gnss.fix": ""}})
    assert resp["error_desc"].startswith("interest.gnss.fix")
    assert agent.request("io/set", {"interest": {"io.D01": "do1"}})["result"]


def test_timer_uploads_at_the_new_interval_and_stops_at_zero(agent: Agent) -> None:
    agent.feed({"motion.ts": 7, "motion.ax": 0.5})
    agent.request("motion/set", {"interval": 1, "interest": {"motion.ax": "ax"}})
    agent.h.advance(0.999)
    assert agent.infos("motion") == []
    agent.h.advance(0.001)
    assert agent.infos("motion") == [{"motion.ts": 7, "ax": 0.5}]
    agent.h.advance(2.0)
    assert len(agent.infos("motion")) == 2
    assert agent.request("motion/set", {"interval": 0}, token="t2")["result"] == {"interval": 0}
    agent.h.advance(10.0)
    assert agent.infos("motion") == []


def test_include_invalid_sends_nulls(tmp_path: Path) -> None:
    device = DeviceConfig.model_validate({"mqtt": {"client_id": "dev1"}, "flexapi": {"include_invalid": True}})
    with start_agent(tmp_path / "state", device) as h:
        agent = Agent(h)
        agent.feed({"gnss.latitude": 1.5})
        agent.request("gnss/set", {"interest": {"gnss.latitude": "lat", "gnss.fix": "fix"}})
        assert agent.request("gnss/refresh")["result"] == {"gnss.ts": None, "lat": 1.5, "fix": None}


def test_not_found_for_unknown_group_and_unsupported_operation(agent: Agent) -> None:
    resp = agent.request("nosuch/refresh")
    assert (resp["error"], resp["client_token"]) == ("not_found", "t1")
    assert agent.request("nosuch/set", {"interval": 5})["error"] == "not_found"
    assert agent.request("sysinfo/set", {"interval": 5})["error"] == "not_found"


def test_malformed_requests_get_an_answer_on_their_resp_topic(agent: Agent) -> None:
    cases = [
        (b"not json", "payload"),
        (b"\xff\xfe", "payload"),
        (b"[1, 2]", "payload"),
        (b'{"interval": 5}', "client_token"),
        (b'{"client_token": 5}', "client_token"),
        (json.dumps({"client_token": "x" * 257}).encode(), "client_token"),
        (b'{"client_token": "a", "interval": NaN}', "payload"),
        (b"[" * 5000 + b"]" * 5000, "payload"),
        (b'{"client_token": "a", "interest": ' + b'{"k":' * 20 + b"1" + b"}" * 20 + b"}", "payload"),
        (b" " * 70_000, "payload"),
    ]
    for raw, field in cases:
        resp = agent.request("gnss/set", raw=raw)
        assert resp["error"] == "invalid_parameter", raw[:40]
        assert resp["error_desc"].startswith(field), resp
    assert "client_token" not in agent.request("gnss/set", raw=b'{"client_token": 5}')


def test_retry_inside_the_minimum_interval_is_busy_but_rejected_requests_do_not_count(agent: Agent) -> None:
    assert agent.request("gnss/set", {"interval": 99999})["error"] == "invalid_parameter"
    assert "result" in agent.request("gnss/set", {"interval": 20})
    busy = agent.request("gnss/set", {"interval": 40}, token="again")
    assert busy == {"client_token": "again", "error": "device_busy", "error_desc": busy["error_desc"]}
    assert "1 s" in busy["error_desc"]
    assert agent.h.node("group-gnss").settings.interval == 20
    assert "result" in agent.request("obd/set", {"interval": 20})  # other topics are independent


def test_settings_survive_a_restart(tmp_path: Path, device: DeviceConfig) -> None:
    with start_agent(tmp_path / "state", device) as h:
        Agent(h).request("gnss/set", {"interval": 25, "interest": {"gnss.speed": "v"}})
    with start_agent(tmp_path / "state", device) as h:
        node = h.node("group-gnss")
        assert (node.settings.interval, node.settings.interest) == (25, {"gnss.speed": "v"})


def test_custom_group_lifecycle_runs_as_generated_nodes(agent: Agent) -> None:
    agent.feed({"gnss.latitude": 40.1, "obd.speed": 50})
    create = {
        "settings": [
            {"group_name": "fleet", "interval": 60, "interest": {"gnss.latitude": "lat", "obd.speed": ""}},
            {"group_name": "ud", "interest": {"userdata.driver": "driver"}},
        ]
    }
    resp = agent.request("group/set", create)
    assert resp["result"] == [
        {"group_name": "fleet", "interval": 60, "interest": {"gnss.latitude": "lat", "obd.speed": ""}},
        {"group_name": "ud", "interval": 10, "interest": {"userdata.driver": "driver"}},
    ]
    wait_until(lambda: "flexapi-custom-fleet" in agent.h.runtime.nodes, what="generated node")
    assert agent.h.node("flexapi-custom-fleet").config.interval == 60
    assert agent.request("fleet/refresh")["result"] == {"lat": 40.1, "obd.speed": 50}
    assert agent.request("ud/refresh")["error"] == "data_invalid"
    assert agent.request("fleet/set", {"interval": 1})["result"] == {"interval": 1}
    wait_until(lambda: agent.h.node("flexapi-custom-fleet").config.interval == 1, what="redeployed node")
    agent.h.taken("flexapi-out")
    agent.h.advance(1.0)
    assert agent.infos("fleet") == [{"lat": 40.1, "obd.speed": 50}]
    assert agent.request("group/get")["result"][0] == {
        "group_name": "fleet",
        "interval": 1,
        "interest": {"gnss.latitude": "lat", "obd.speed": ""},
    }
    remove = {"settings": [{"group_name": "fleet", "interest": None}, {"group_name": "ud", "interest": None}]}
    agent.wait_retry()
    assert agent.request("group/set", remove, token="rm")["result"] == remove["settings"]
    wait_until(lambda: "flexapi-custom-fleet" not in agent.h.runtime.nodes, what="node removed")
    assert agent.request("fleet/refresh")["error"] == "not_found"


def test_group_set_is_all_or_nothing(agent: Agent) -> None:
    body = {
        "settings": [
            {"group_name": "good", "interest": {"gnss.latitude": ""}},
            {"group_name": "gnss", "interest": {"gnss.latitude": ""}},
        ]
    }
    resp = agent.request("group/set", body)
    assert resp["error"] == "invalid_parameter"
    assert resp["error_desc"].startswith("settings[1].group_name")
    assert agent.h.node("flexapi-custom-groups").groups == {}
    assert agent.request("good/refresh", token="x")["error"] == "not_found"


def test_custom_groups_limit_of_sixteen(agent: Agent) -> None:
    many = [{"group_name": f"g{i}", "interest": {"io.AI1": ""}} for i in range(17)]
    resp = agent.request("group/set", {"settings": many})
    assert resp["error"] == "invalid_parameter"
    assert "16" in resp["error_desc"]


def test_custom_groups_come_back_after_a_restart(tmp_path: Path, device: DeviceConfig) -> None:
    with start_agent(tmp_path / "state", device) as h:
        Agent(h).request("group/set", {"settings": [{"group_name": "keep", "interest": {"io.AI2": "a2"}}]})
    with start_agent(tmp_path / "state", device) as h:
        wait_until(lambda: "flexapi-custom-keep" in h.runtime.nodes, what="generated node after restart")
        assert Agent(h).request("group/get")["result"] == [
            {"group_name": "keep", "interval": 10, "interest": {"io.AI2": "a2"}}
        ]


def test_userdata_lifecycle(agent: Agent) -> None:
    insert = {"userdata.driver": "Ann", "userdata.serial_number": "SN0125"}
    assert agent.request("userdata/set", {"insert": insert})["result"] == {"inserted": insert}
    assert agent.request("userdata/refresh")["result"] == insert
    agent.wait_retry()
    again = agent.request("userdata/set", {"insert": {"userdata.driver": "Bob"}}, token="t2")
    assert (again["error"], again["error_desc"][:22]) == ("invalid_parameter", "insert.userdata.driver")
    assert agent.request("userdata/set", {"update": {"userdata.nope": 1}}, token="t3")["error"] == "not_found"
    update = agent.request("userdata/set", {"update": {"userdata.driver": "Bob"}}, token="t4")
    assert update["result"] == {"updated": {"userdata.driver": "Bob"}}
    assert agent.store["userdata.driver"] == "Bob"
    agent.wait_retry()
    assert agent.request("userdata/set", {"interest": {"userdata.driver": "who"}})["result"]
    assert agent.request("userdata/refresh")["result"] == {"who": "Bob"}
    agent.wait_retry()
    deleted = agent.request("userdata/set", {"delete": {"userdata.driver": "driver"}}, token="t5")
    assert deleted["result"] == {"deleted": {"userdata.driver": "driver"}}
    assert agent.store["userdata.driver"] is None  # gone: invalid for every group that carries it
    agent.wait_retry()
    assert agent.request("userdata/refresh")["error"] == "data_invalid"


def test_userdata_one_operation_per_request(agent: Agent) -> None:
    resp = agent.request("userdata/set", {"insert": {"userdata.a": 1}, "interval": 5})
    assert resp["error"] == "invalid_parameter"
    assert resp["error_desc"].startswith("insert")


def test_io_control_persists_then_drives_outputs(agent: Agent, outputs: FakeIoSource, tmp_path: Path) -> None:
    resp = agent.request("io/control", {"io.D01": 1, "io.DO2_pullup": 1})
    assert resp["result"] == {"io.D01": 1, "io.DO2_pullup": 1}
    assert outputs.applied == [{"io.DO1": 1, "io.DO2_pullup": 1}]
    saved = json.loads((tmp_path / "state" / "flexapi" / statefiles.IO_OUTPUTS).read_text())
    assert saved == {"io.DO1": 1, "io.DO2_pullup": 1}
    assert agent.request("io/refresh")["result"]["io.DO1"] == 1


def test_io_control_rejects_bad_values_and_reports_hardware_failure(agent: Agent, outputs: FakeIoSource) -> None:
    assert agent.request("io/control", {"io.DO1": 2})["error_desc"].startswith("io.DO1")
    assert agent.request("io/control", {"io.DI1": 1})["error_desc"].startswith("io.DI1")
    assert agent.request("io/control", {"io.DO1": True})["error"] == "invalid_parameter"
    outputs.fail = True
    resp = agent.request("io/control", {"io.DO3": 1})
    assert resp["error"] == "device_error"
    assert agent.h.node("flexapi-io-control").saved == {}
    outputs.fail = False
    assert "result" in agent.request("io/control", {"io.DO3": 1}, token="retry")  # the failure did not count
    assert agent.request("io/control", {"io.DO3": 0}, token="busy")["error"] == "device_busy"


def test_io_outputs_are_restored_at_start(tmp_path: Path, device: DeviceConfig) -> None:
    statefiles.save(tmp_path / "state", statefiles.IO_OUTPUTS, {"io.DO4": 1})
    with start_agent(tmp_path / "state", device) as h:
        io = h.node("source-io")
        wait_until(lambda: io.applied == [{"io.DO4": 1}], what="outputs restored")  # type: ignore[attr-defined]


def test_app_control_state_and_hooks(tmp_path: Path, device: DeviceConfig) -> None:
    hook = {"id": "hook", "type": "app hook", "keys": ["app.reboot_modem"], "wires": [["hook-out"]]}
    sink = {"id": "hook-out", "type": "helper"}
    with start_agent(tmp_path / "state", device, [hook, sink]) as h:
        agent = Agent(h)
        assert agent.request("app/refresh")["result"] == {"app.wifi_mode_2g": -1, "app.wifi_mode_5g": -1}
        assert agent.request("app/control", {"app.wifi_mode_2g": 1, "app.reboot_modem": 1})["result"] == {
            "app.wifi_mode_2g": 1,
            "app.reboot_modem": 1,
        }
        assert h.one("hook-out")["payload"] == {"app.reboot_modem": 1}
        agent.wait_retry()
        assert agent.request("app/control", {"app.nope": 1}, token="n")["error_desc"].startswith("app.nope")
    with start_agent(tmp_path / "state", device, [hook, sink]) as h:
        result = Agent(h).request("app/refresh")["result"]
        assert result == {"app.wifi_mode_2g": 1, "app.wifi_mode_5g": -1, "app.reboot_modem": 1}


def test_app_control_value_must_be_zero_or_one(agent: Agent) -> None:
    resp = agent.request("app/control", {"app.wifi_mode_5g": -1})
    assert (resp["error"], resp["error_desc"][:16]) == ("invalid_parameter", "app.wifi_mode_5g")
    assert agent.h.taken("flexapi-out") == []
