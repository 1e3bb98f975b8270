"""Regressions of the hostile probe of the running agent: what a remote party or a flow can make it do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agent_support import Platform, RunningAgent, device

from flowengine.testing import Mosquitto

pytestmark = pytest.mark.broker

SECRET = "s3cret-do-not-publish"


def test_a_request_with_an_empty_group_gets_its_answer(agent: RunningAgent, platform: Platform) -> None:
    for op in ("set", "refresh"):
        answer = platform.request(f"/{op}", {"interval": 5} if op == "set" else None)
        assert answer["error"] == "not_found" and "''" in answer["error_desc"]


def test_an_alias_cannot_take_the_name_of_a_stamp_or_a_parameter(agent: RunningAgent, platform: Platform) -> None:
    for alias in ("gnss.ts", "gnss.latitude", "summary.ul_ts", "userdata.x"):
        answer = platform.request("gnss/set", {"interest": {"gnss.speed": alias}}, when_free=True)
        assert answer["error"] == "invalid_parameter", alias
        assert answer["error_desc"].startswith("interest.gnss.speed: alias"), answer


def test_flows_cannot_read_the_broker_password(
    broker: Mosquitto, tmp_path: Path, client_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWENGINE_PASSWORD", SECRET)
    flows = tmp_path / "flows"
    flows.mkdir()
    rules = [
        {"t": "set", "p": "from_env", "pt": "msg", "to": "FLOWENGINE_PASSWORD", "tot": "env"},
        {"t": "set", "p": "payload", "pt": "msg", "to": '{"substituted": payload, "env": from_env}', "tot": "jsonata"},
    ]
    leak = [
        {"id": "tick", "type": "inject", "once": True, "onceDelay": 0.01, "payload": "${FLOWENGINE_PASSWORD}",
         "payloadType": "str", "wires": [["read"]]},
        {"id": "read", "type": "change", "rules": rules, "wires": [["out"]]},
        {"id": "out", "type": "mqtt out", "topic": f"leak/{client_id}", "wires": []},
    ]  # fmt: skip
    (flows / "leak.json").write_text(json.dumps(leak))
    spy = Platform(broker.port, "leak")
    running = RunningAgent(device(broker, tmp_path / "state", client_id), [flows])
    try:
        assert spy.wait(client_id, timeout=10) == {"substituted": "", "env": ""}
    finally:
        spy.close()
        running.stop()
