"""End to end over a real mosquitto: an agent speaking 1.0.9 next to one speaking 1.0.8, io/toggle,
a configuration imported into a running agent, and a request topic handed over to a user flow."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_support import Platform, RunningAgent, device, has_values

from flowengine.testing import Mosquitto, wait_until
from nodes.flexapi import configfile
from nodes.flexapi.envelope import PRECISE_CONDITIONS

pytestmark = pytest.mark.broker

REPO = Path(__file__).resolve().parents[1]
RESERVED = ("summary", "obd", "gnss", "motion", "io", "cellular1", "userdata", "1-wire", "sysinfo", "app")
TIMED = ("summary", "obd", "gnss", "motion", "io", "cellular1", "userdata", "1-wire")
SOURCES = ("gnss", "obd", "io", "motion", "modem1", "cellular1", "sysinfo", "1-wire")


@pytest.fixture
def agent109(broker: Mosquitto, tmp_path: Path, client_id: str) -> Iterator[RunningAgent]:
    running = RunningAgent(device(broker, tmp_path / "state", client_id, flexapi={"revision": "1.0.9"}))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def platform109(broker: Mosquitto, client_id: str, agent109: RunningAgent) -> Iterator[Platform]:
    p = Platform(broker.port, f"v1/{client_id}")
    try:
        yield p.wait_ready()
    finally:
        p.close()


def test_ul_ts_in_every_reserved_group_under_109(agent109: RunningAgent, platform109: Platform) -> None:
    wait_until(has_values(agent109, *SOURCES), 10)
    assert "result" in platform109.request("userdata/set", {"insert": {"userdata.driver": "Ann"}})
    for group in TIMED:
        assert "result" in platform109.request(f"{group}/set", {"interval": 1}, when_free=True), group
    for group in TIMED:
        info = platform109.wait(f"{group}/info", timeout=4)
        assert isinstance(info.get(f"{group}.ul_ts"), int), (group, info)
    for group in RESERVED:
        result = platform109.request(f"{group}/refresh", when_free=True)["result"]
        assert isinstance(result.get(f"{group}.ul_ts"), int), (group, result)


def test_no_ul_ts_under_108(agent: RunningAgent, platform: Platform) -> None:
    wait_until(has_values(agent, *SOURCES), 10)
    assert "result" in platform.request("userdata/set", {"insert": {"userdata.driver": "Ann"}})
    assert "result" in platform.request("gnss/set", {"interval": 1})
    assert not any(k.endswith("ul_ts") for k in platform.wait("gnss/info", timeout=4))
    for group in RESERVED:
        result = platform.request(f"{group}/refresh", when_free=True)["result"]
        assert not any(k.endswith("ul_ts") for k in result), group


def provoke(platform: Platform) -> dict[str, str]:
    """Each precise condition, from the request that should produce it: condition -> error code answered."""
    seventeen = [{"group_name": f"g{i}", "interest": {"io.AI1": ""}} for i in range(17)]
    codes = {"data_empty": platform.request("userdata/refresh")["error"]}
    codes["over_group_num"] = platform.request("group/set", {"settings": seventeen})["error"]
    codes["over_data_num"] = platform.request("gnss/set", {"interest": {f"gnss.k{i}": "" for i in range(257)}})["error"]
    codes["interval_invalid"] = platform.request("obd/set", {"interval": 3601})["error"]
    codes["invalid_token"] = platform.request("motion/refresh", raw=b'{"client_token": 7}')["error"]
    codes["not_support"] = platform.request("sysinfo/set", {"interval": 5})["error"]
    assert "result" in platform.request("userdata/set", {"insert": {"userdata.a": 1}})
    codes["find_same_key"] = platform.request("userdata/set", {"insert": {"userdata.a": 2}}, when_free=True)["error"]
    return codes


def test_each_109_error_code_from_the_request_that_produces_it(agent109: RunningAgent, platform109: Platform) -> None:
    assert provoke(platform109) == {condition: condition for condition in PRECISE_CONDITIONS}


def test_their_108_counterparts(agent: RunningAgent, platform: Platform) -> None:
    assert provoke(platform) == PRECISE_CONDITIONS


def test_io_toggle_flips_back_after_the_delay(agent: RunningAgent, platform: Platform) -> None:
    values = agent.runtime.nodes["flexapi-values"].latest
    wait_until(lambda: values.get("io.DO2") == 0, 10, what="io source up")
    body = {"io.DO2": 1, "io.DO2_toggle_ms": 400}
    assert platform.request("io/toggle", body)["result"] == body
    wait_until(lambda: values.get("io.DO2") == 1, 2, interval=0.01, what="DO2 high")
    wait_until(lambda: values.get("io.DO2") == 0, 3, what="DO2 back to low")
    assert platform.request("io/refresh")["result"]["io.DO2"] == 0
    assert platform.request("io/control", {"io.DO2": 1})["error"] == "device_busy"  # one retry interval for both
    saved = json.loads((Path(agent.agent.config.state_dir) / "flexapi" / "io_outputs.json").read_text())
    assert saved == {"io.DO2": 0}


def test_an_import_into_a_running_agent_changes_what_it_answers(agent: RunningAgent, platform: Platform) -> None:
    state_dir = Path(agent.agent.config.state_dir)
    assert platform.request("group/get")["result"] == []
    wanted = configfile.export_config(state_dir)
    wanted["groups"]["gnss"]["interval"] = 1
    wanted["custom_groups"] = [{"group_name": "trip", "interval": 1, "interest": {"gnss.latitude": "lat"}}]
    wanted["userdata"]["values"] = {"userdata.driver": "Bob"}
    path = state_dir.parent / "wanted.json"
    path.write_text(json.dumps(wanted))
    cmd = [sys.executable, "-m", "flowengine", "config", "import", str(path), "--state-dir", str(state_dir)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=90, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "the running agent (pid" in result.stdout and "applied it" in result.stdout
    assert platform.request("group/get", when_free=True)["result"] == wanted["custom_groups"]
    assert platform.request("userdata/refresh")["result"] == {"userdata.driver": "Bob"}
    assert set(platform.wait("trip/info", timeout=4)) == {"lat"}
    assert "gnss.latitude" in platform.wait("gnss/info", timeout=4)
    reset = [*cmd[:4], "restore-defaults", "--state-dir", str(state_dir)]
    assert subprocess.run(reset, capture_output=True, text=True, timeout=90, cwd=REPO).returncode == 0
    assert platform.request("group/get", when_free=True)["result"] == []


def door_flow() -> list[dict[str, Any]]:
    """A user flow answering ``door/set`` itself (mqtt in on the device link -> change -> mqtt out)."""
    answer = '{"client_token": payload.client_token, "result": {"door": payload.open = 1 ? "opening" : "closing"}}'
    return [
        {"id": "door-tab", "type": "tab", "label": "door"},
        {
            "id": "door-in",
            "type": "mqtt in",
            "z": "door-tab",
            "topic": "${FLOWENGINE_TOPIC_ROOT}/door/set",
            "datatype": "json",
            "wires": [["door-answer"]],
        },
        {
            "id": "door-answer",
            "type": "change",
            "z": "door-tab",
            "rules": [{"t": "set", "p": "payload", "pt": "msg", "to": answer, "tot": "jsonata"}],
            "wires": [["door-out"]],
        },
        {"id": "door-out", "type": "mqtt out", "z": "door-tab", "topic": "${FLOWENGINE_TOPIC_ROOT}/door/set/resp"},
    ]


def test_a_user_flow_takes_a_request_topic_and_the_agent_leaves_it(
    broker: Mosquitto, tmp_path: Path, client_id: str
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "door.json").write_text(json.dumps(door_flow()))
    running = RunningAgent(device(broker, tmp_path / "state", client_id), [flows])
    p = Platform(broker.port, f"v1/{client_id}").wait_ready()
    try:
        wait_until(lambda: running.runtime.nodes["door-in"].last_status.get("fill") == "green", what="door flow up")
        assert p.request("door/set", {"open": 1})["result"] == {"door": "opening"}
        assert p.silent("door/set/resp", within=0.5)  # one answer only: no not_found from the agent
        assert p.request("window/set", {"open": 1})["error"] == "not_found"
    finally:
        p.close()
        running.stop()
