"""End to end: the shipped agent (default flow, simulated sources) against a real mosquitto, driven with paho.

The platform side is a plain paho client; every test runs its own agent (own
client id and state dir) on the module's broker. The minimum retry interval is
part of the contract, so tests use distinct topics rather than waiting it out.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from agent_support import Platform, RunningAgent, device, has_values

from flowengine.testing import Mosquitto, wait_until
from nodes.flexapi.params import PARAMS
from nodes.flexapi.topics import request_filters

pytestmark = pytest.mark.broker


def test_every_refresh_topic_answers(agent: RunningAgent, platform: Platform) -> None:
    wait_until(has_values(agent, "gnss", "obd", "io", "motion", "modem1", "cellular1", "sysinfo", "1-wire"), 10)
    for group in ("summary", "obd", "gnss", "motion", "io", "cellular1", "sysinfo", "app", "1-wire"):
        result = platform.request(f"{group}/refresh")["result"]
        assert result and all(v is not None for v in result.values()), group
    assert {"gnss.ts", "obd.ts", "io.ts", "motion.ts"} <= set(
        platform.request("summary/refresh", when_free=True)["result"]
    )
    assert platform.request("userdata/refresh")["error"] == "data_invalid"
    assert platform.request("nosuch/refresh")["error"] == "not_found"


def test_reserved_payloads_carry_stamps_and_aliases_in_info_and_refresh(
    agent: RunningAgent, platform: Platform
) -> None:
    wait_until(has_values(agent, "gnss", "modem1", "cellular1"), 10)
    interest = {"gnss.latitude": "lat", "gnss.longitude": "", "gnss.fix": "fix"}
    assert platform.request("gnss/set", {"interval": 1, "interest": interest})["result"] == {
        "interval": 1,
        "interest": interest,
    }
    info = platform.wait("gnss/info", timeout=3)
    assert set(info) == {"gnss.ts", "lat", "gnss.longitude", "fix"}
    assert set(platform.request("gnss/refresh")["result"]) == set(info)
    cell = platform.request("cellular1/refresh")["result"]
    assert {"modem1.ts", "cellular1.ts", "modem1.imei", "cellular1.ip"} <= set(cell)


def test_the_four_settings_cases(agent: RunningAgent, platform: Platform) -> None:
    assert platform.request("obd/set", {"interval": 0})["result"] == {"interval": 0}
    assert platform.request("motion/set", {"interval": 60})["result"] == {"interval": 60}
    assert platform.request("io/set", {"interest": {"io.AI1": "ai1"}})["result"] == {"interest": {"io.AI1": "ai1"}}
    both = {"interval": 20, "interest": {"1-wire.temp1_data": "data1", "1-wire.temp1_id": "ID1"}}
    assert platform.request("1-wire/set", both)["result"] == both
    nodes = agent.runtime.nodes
    assert nodes["group-obd"].settings.interval == 0
    assert nodes["group-motion"].settings.interval == 60
    assert nodes["group-io"].settings.interest == {"io.AI1": "ai1"}
    assert nodes["group-1-wire"].settings.interval == 20


def test_error_codes_and_malformed_requests(agent: RunningAgent, platform: Platform, broker: Mosquitto) -> None:
    for raw in (b"{not json", b"\xc3\x28", b'"text"', b"[" * 100 + b"]" * 100, b"x" * (64 * 1024 + 1)):
        resp = platform.request("obd/set", raw=raw)
        assert resp["error"] == "invalid_parameter" and resp["error_desc"].startswith("payload"), raw[:20]
        assert "client_token" not in resp
    long_token = json.dumps({"client_token": "t" * 257, "interval": 5}).encode()
    assert platform.request("obd/set", raw=long_token)["error_desc"].startswith("client_token")
    ok_token = "t" * 256
    publish = json.dumps({"client_token": ok_token, "interval": 5}).encode()
    platform.publish("obd/set", publish)
    assert platform.wait("obd/set/resp", lambda p: p.get("client_token") == ok_token)["result"] == {"interval": 5}
    busy = platform.request("obd/set", {"interval": 6})
    assert busy["error"] == "device_busy"
    assert agent.runtime.nodes["group-obd"].settings.interval == 5
    assert platform.request("sysinfo/set", {"interval": 5})["error"] == "not_found"
    assert platform.request("gnss/set", {"interval": 5, "extra": 1})["error_desc"].startswith("extra")


def test_limits_of_custom_groups_and_items(agent: RunningAgent, platform: Platform) -> None:
    keys = [k for k, p in PARAMS.items() if not p.is_ts]
    keys += [f"userdata.k{i}" for i in range(256 - len(keys))]
    big = {"group_name": "big", "interest": dict.fromkeys(keys, "")}
    assert len(platform.request("group/set", {"settings": [big]})["result"][0]["interest"]) == 256
    too_many_keys = {"settings": [{"group_name": "big", "interest": {**big["interest"], "userdata.extra": ""}}]}
    assert (
        platform.request("big/set", {"interest": too_many_keys["settings"][0]["interest"]})["error"]
        == "invalid_parameter"
    )
    groups = [{"group_name": f"g{i}", "interest": {"io.AI1": ""}} for i in range(16)]
    resp = platform.request("group/set", {"settings": groups}, when_free=True)
    assert resp["error"] == "invalid_parameter" and "16" in resp["error_desc"]
    assert len(platform.request("group/get")["result"]) == 1


def test_custom_group_lifecycle(agent: RunningAgent, platform: Platform) -> None:
    wait_until(has_values(agent, "gnss", "obd"), 10)
    create = {"group_name": "fleet", "interval": 1, "interest": {"gnss.latitude": "lat", "obd.speed": ""}}
    assert platform.request("group/set", {"settings": [create]})["result"] == [create]
    info = platform.wait("fleet/info", timeout=4)
    assert set(info) == {"lat", "obd.speed"}
    assert set(platform.request("fleet/refresh")["result"]) == {"lat", "obd.speed"}
    assert platform.request("fleet/set", {"interest": {"io.AI1": "ai1"}})["result"] == {"interest": {"io.AI1": "ai1"}}
    assert platform.request("group/get")["result"] == [
        {"group_name": "fleet", "interval": 1, "interest": {"io.AI1": "ai1"}}
    ]
    assert set(platform.wait("fleet/info", lambda p: "ai1" in p, timeout=4)) == {"ai1"}
    removed = platform.request("group/set", {"settings": [{"group_name": "fleet", "interest": None}]}, when_free=True)
    assert removed["result"] == [{"group_name": "fleet", "interest": None}]
    wait_until(lambda: "flexapi-custom-fleet" not in agent.runtime.nodes, what="generated node removed")
    assert platform.request("fleet/set", {"interval": 3})["error"] == "not_found"


def test_userdata_lifecycle_and_custom_group_of_userdata(agent: RunningAgent, platform: Platform) -> None:
    insert = {"userdata.custom_key": "custom_value", "userdata.serial_number": "SN0125"}
    assert platform.request("userdata/set", {"insert": insert})["result"] == {"inserted": insert}
    assert platform.request("userdata/refresh")["result"] == insert
    mine = {"group_name": "mine", "interest": {"userdata.serial_number": "sn"}}
    platform.request("group/set", {"settings": [mine]})
    assert platform.request("mine/refresh")["result"] == {"sn": "SN0125"}
    missing = platform.request("userdata/set", {"update": {"userdata.missing": 1}}, when_free=True)
    assert missing["error"] == "not_found"
    assert platform.request("userdata/set", {"update": {"userdata.serial_number": "SN0232"}})["result"] == {
        "updated": {"userdata.serial_number": "SN0232"}
    }
    assert platform.request("userdata/set", {"delete": {"userdata.custom_key": ""}}, when_free=True)["result"] == {
        "deleted": {"userdata.custom_key": ""}
    }
    assert platform.request("userdata/refresh", when_free=True)["result"] == {"userdata.serial_number": "SN0232"}


def test_io_and_app_control(agent: RunningAgent, platform: Platform) -> None:
    wait_until(has_values(agent, "io"), 10)
    assert platform.request("io/control", {"io.DO1": 3})["error"] == "invalid_parameter"
    sent = {"io.D01": 1, "io.DO2_pullup": 1}
    assert platform.request("io/control", sent)["result"] == sent
    assert platform.request("io/control", {"io.DO1": 0})["error"] == "device_busy"
    wait_until(lambda: agent.runtime.nodes["flexapi-values"].latest.get("io.DO1") == 1, what="DO1 reported")
    assert platform.request("io/refresh")["result"]["io.DO1"] == 1
    assert platform.request("app/refresh")["result"] == {"app.wifi_mode_2g": -1, "app.wifi_mode_5g": -1}
    assert platform.request("app/control", {"app.wifi_mode_5g": 1})["result"] == {"app.wifi_mode_5g": 1}


def test_subscribes_only_its_own_request_topics(agent: RunningAgent, platform: Platform, broker: Mosquitto) -> None:
    subscribed = sorted(f for f, _ in agent.agent.link._subs.filters())
    simulator = f"sim/{agent.agent.config.mqtt.client_id}/control"  # under --simulate only
    assert subscribed == sorted([*request_filters(platform.root), simulator])
    other = Platform(broker.port, "v1/someone-else")
    try:
        other.publish("gnss/refresh", json.dumps({"client_token": "x"}).encode())
        assert other.silent("gnss/refresh/resp")
    finally:
        other.close()


def test_topic_prefix(broker: Mosquitto, tmp_path: Path, client_id: str) -> None:
    running = RunningAgent(device(broker, tmp_path / "state", client_id, mqtt={"topic_prefix": "fleet"}))
    p = Platform(broker.port, f"fleet/v1/{client_id}").wait_ready()
    try:
        assert p.request("app/refresh")["result"]["app.wifi_mode_2g"] == -1
    finally:
        p.close()
        running.stop()


def test_state_survives_a_restart(broker: Mosquitto, tmp_path: Path, client_id: str) -> None:
    config = device(broker, tmp_path / "state", client_id)
    running = RunningAgent(config)
    p = Platform(broker.port, f"v1/{client_id}").wait_ready()
    try:
        assert "result" in p.request("gnss/set", {"interval": 33, "interest": {"gnss.speed": "v"}})
        assert "result" in p.request("group/set", {"settings": [{"group_name": "keep", "interest": {"io.AI1": "a"}}]})
        assert "result" in p.request("userdata/set", {"insert": {"userdata.driver": "Ann"}})
        assert "result" in p.request("io/control", {"io.DO3": 1})
        assert "result" in p.request("app/control", {"app.wifi_mode_2g": 1})
        running.stop()
        running = RunningAgent(config)
        p.wait_ready()
        assert running.runtime.nodes["group-gnss"].settings.interval == 33
        assert p.request("group/get")["result"] == [{"group_name": "keep", "interval": 10, "interest": {"io.AI1": "a"}}]
        assert p.request("userdata/refresh")["result"] == {"userdata.driver": "Ann"}
        assert p.request("app/refresh")["result"]["app.wifi_mode_2g"] == 1
        wait_until(lambda: running.runtime.nodes["flexapi-values"].latest.get("io.DO3") == 1, 5, what="DO3 restored")
        assert p.request("io/refresh")["result"]["io.DO3"] == 1
    finally:
        p.close()
        running.stop()


def test_flowengine_run_subprocess(broker: Mosquitto, tmp_path: Path, client_id: str) -> None:
    cmd = [sys.executable, "-m", "flowengine", "run", "--simulate", "--broker", broker.url]
    cmd += ["--client-id", client_id, "--state-dir", str(tmp_path / "state"), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=Path(__file__).resolve().parents[1], stderr=subprocess.PIPE)
    p = Platform(broker.port, f"v1/{client_id}")
    try:
        p.wait_ready(timeout=20)
        assert p.request("app/refresh")["result"]["app.wifi_mode_2g"] == -1
        created = p.request("group/set", {"settings": [{"group_name": "sub", "interest": {"io.AI1": ""}}]})
        assert created["result"][0]["group_name"] == "sub"
    finally:
        p.close()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err.decode()[-2000:]
    saved = json.loads((tmp_path / "state" / "flexapi" / "custom_groups.json").read_text())
    assert saved == [{"group_name": "sub", "interval": 10, "interest": {"io.AI1": ""}}]
    assert os.path.exists(tmp_path / "state" / "flexapi")
