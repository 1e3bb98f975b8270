"""Two-way app hooks: allowed values, the client token on the way out, refusal by the flow, state reported in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flexapi_support import Agent, device_config, start_agent
from pydantic import ValidationError

from flowengine.testing import FlowHarness
from nodes.flexapi.app_hook import AppHookConfig

#: A hook on app.light (0/1), app.mode (eco/sport) and app.level (0..100).
HOOK = {
    "id": "hook",
    "type": "app hook",
    "keys": ["app.light", "app.mode", "app.level", "app.note"],
    "allowed": {"app.light": [0, 1], "app.mode": ["eco", "sport"], "app.level": {"min": 0, "max": 100}},
    "wires": [["hook-out"]],
}
SINK = {"id": "hook-out", "type": "helper"}


def refusing(text: str, wait: float = 2.0) -> list[dict[str, Any]]:
    """A hook whose flow refuses every request with ``text`` (sends the msg back with msg.refuse)."""
    refuse = {
        "id": "refuse",
        "type": "change",
        "rules": [{"t": "set", "p": "refuse", "pt": "msg", "to": text, "tot": "str"}],
        "wires": [["hook"]],
    }
    return [{**HOOK, "wait": wait, "wires": [["hook-out", "refuse"]]}, SINK, refuse]


def start(tmp_path: Path, extra: list[dict[str, Any]]) -> FlowHarness:
    return start_agent(tmp_path / "state", device_config(), extra)


def test_values_outside_what_the_hook_allows_are_refused_before_anything_changes(tmp_path: Path) -> None:
    with start(tmp_path, [HOOK, SINK]) as h:
        agent = Agent(h)
        bad = [
            ({"app.light": 2}, "app.light: must be one of 0, 1"),
            ({"app.light": "1"}, "app.light: must be one of"),
            ({"app.light": True}, "app.light: must be one of"),
            ({"app.mode": "race"}, "app.mode: must be one of 'eco', 'sport'"),
            ({"app.level": 101}, "app.level: 101 is outside 0..100"),
            ({"app.level": "high"}, "app.level: must be a number in 0..100"),
            ({"app.wifi_mode_2g": 1, "app.level": -1}, "app.level"),
        ]
        for index, (body, desc) in enumerate(bad):
            resp = agent.request("app/control", body, token=f"b{index}")
            assert (resp["error"], resp["error_desc"][: len(desc)]) == ("invalid_parameter", desc), resp
        assert h.nothing("hook-out", 0.05)
        assert agent.request("app/refresh")["result"] == {"app.wifi_mode_2g": -1, "app.wifi_mode_5g": -1}
        ok = {"app.light": 1, "app.mode": "eco", "app.level": 99.5, "app.note": "anything"}
        assert agent.request("app/control", ok, token="good")["result"] == ok


def test_the_hook_output_carries_the_request_token(tmp_path: Path) -> None:
    with start(tmp_path, [HOOK, SINK]) as h:
        Agent(h).request("app/control", {"app.light": 1, "app.wifi_mode_5g": 0}, token="tok-42")
        msg = h.one("hook-out")
        assert (msg["topic"], msg["payload"], msg["client_token"]) == ("app/control", {"app.light": 1}, "tok-42")


def test_a_flow_refuses_a_request_and_the_state_stays(tmp_path: Path) -> None:
    with start(tmp_path, refusing("door is open")) as h:
        agent = Agent(h)
        resp = agent.request("app/control", {"app.light": 1})
        assert resp == {"client_token": "t1", "error": "device_error", "error_desc": "app.light: door is open"}
        assert h.one("hook-out")["payload"] == {"app.light": 1}  # the flow was asked
        agent.wait_retry()
        assert "app.light" not in agent.request("app/refresh")["result"]
    with start(tmp_path, refusing("door is open")) as h:
        assert "app.light" not in Agent(h).request("app/refresh")["result"]


def test_a_flow_accepts_at_once_or_by_saying_nothing_within_wait(tmp_path: Path) -> None:
    accept = {
        "id": "accept",
        "type": "change",
        "rules": [{"t": "set", "p": "accept", "pt": "msg", "to": "true", "tot": "bool"}],
        "wires": [["hook"]],
    }
    with start(tmp_path, [{**HOOK, "wait": 5, "wires": [["hook-out", "accept"]]}, SINK, accept]) as h:
        assert Agent(h).request("app/control", {"app.light": 1})["result"] == {"app.light": 1}
    silent = [{**HOOK, "wait": 3}, SINK]
    with start(tmp_path / "silent", silent) as h:
        agent = Agent(h)
        h.inject("flexapi-request", topic="v1/dev1/app/control", payload=b'{"client_token": "s", "app.mode": "eco"}')
        h.advance(2.999)
        assert not [m for m in h.taken("flexapi-out") if m["topic"].endswith("/resp")]
        h.advance(0.001)
        assert agent.next("v1/dev1/app/control/resp") == {"client_token": "s", "result": {"app.mode": "eco"}}


def test_a_flow_reports_the_app_state_that_refresh_returns_durably(tmp_path: Path) -> None:
    with start(tmp_path, [HOOK, SINK]) as h:
        h.inject("hook", payload={"app.mode": "sport", "app.level": 40})
        agent = Agent(h)
        assert agent.request("app/refresh")["result"] == {
            "app.wifi_mode_2g": -1,
            "app.wifi_mode_5g": -1,
            "app.mode": "sport",
            "app.level": 40,
        }
        assert agent.store["app.mode"] == "sport"  # custom groups may carry it
    with start(tmp_path, [HOOK, SINK]) as h:
        assert Agent(h).request("app/refresh")["result"]["app.level"] == 40


def test_a_state_report_of_a_foreign_key_is_an_error_for_catch(tmp_path: Path) -> None:
    catch = {"id": "catch", "type": "catch", "wires": [["caught"]]}
    with start(tmp_path, [HOOK, SINK, catch, {"id": "caught", "type": "helper"}]) as h:
        h.inject("hook", payload={"app.other": 1})
        assert "app.other" in h.one("caught")["error"]["message"]
        assert "app.other" not in Agent(h).request("app/refresh")["result"]


def test_hook_config_is_checked() -> None:
    base = {"keys": ["app.a"]}
    for bad in (
        {"allowed": {"app.b": [1]}},
        {"allowed": {"app.a": []}},
        {"allowed": {"app.a": {"min": 5, "max": 1}}},
        {"allowed": {"app.a": {"low": 1}}},
        {"wait": 11},
        {"wait": -1},
    ):
        with pytest.raises(ValidationError):
            AppHookConfig.model_validate({**base, **bad})
