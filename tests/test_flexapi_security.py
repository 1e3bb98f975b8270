"""Security of the agent: TLS verification by default, credentials in no log, state file or export; no replays.

(The agent subscribing only its own request topics is tested in test_flexapi_e2e.py;
the expression sandbox end to end through a user flow in test_flexapi_isolation.py.)
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from agent_support import REPO, AgentProcess, Platform, RunningAgent, device

from flowengine.cli import build_parser, device_config_from
from flowengine.config import MqttSettings
from flowengine.mqtt.tls import tls_context
from flowengine.testing import BROKER_PASSWORD, Mosquitto, make_ca, wait_until
from nodes.flexapi import configfile


def test_tls_verifies_the_broker_unless_told_otherwise(tmp_path: Path) -> None:
    ca = make_ca(tmp_path, "ca")
    ctx = tls_context(MqttSettings(tls_ca=ca))
    assert ctx is not None and ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    args = build_parser().parse_args(["run", "--tls-ca", str(ca), "--state-dir", str(tmp_path)])
    assert device_config_from(args).mqtt.tls_insecure is False
    insecure = tls_context(MqttSettings(tls_ca=ca, tls_insecure=True))
    assert insecure is not None and insecure.verify_mode == ssl.CERT_NONE


def run_with_credentials(broker: Mosquitto, tmp_path: Path, password: str, wait_for: str) -> str:
    """A debug-level ``flowengine run`` with a user name and ``password`` (from the environment); its log."""
    log = tmp_path / f"agent-{uuid.uuid4().hex[:6]}.log"
    env = {**os.environ, "FLOWENGINE_PASSWORD": password}
    extra = ("--username", "device", "--log-level", "debug")
    agent = AgentProcess(broker, f"sec-{uuid.uuid4().hex[:8]}", tmp_path / "state", log, *extra, env=env)
    try:
        wait_until(lambda: wait_for in agent.log_text(), 20, what=wait_for)
    finally:
        assert agent.stop() == 0, agent.log_text()[-2000:]
    return agent.log_text()


@pytest.mark.broker
def test_no_password_in_logs_state_or_export(auth_broker: Mosquitto, tmp_path: Path) -> None:
    right = run_with_credentials(auth_broker, tmp_path, BROKER_PASSWORD, "connected to")
    wrong_password = f"not-{uuid.uuid4().hex}"
    wrong = run_with_credentials(auth_broker, tmp_path, wrong_password, "retrying in")
    assert BROKER_PASSWORD not in right and wrong_password not in wrong
    assert "not authori" in wrong.lower() or "refused" in wrong.lower()
    state = tmp_path / "state"
    for path in state.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert BROKER_PASSWORD.encode() not in data and wrong_password.encode() not in data, path
    exported = tmp_path / "export.json"
    env = {**os.environ, "FLOWENGINE_PASSWORD": BROKER_PASSWORD}
    cmd = [sys.executable, "-m", "flowengine", "config", "export", str(exported), "--state-dir", str(state)]
    subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True)
    text = exported.read_text()
    assert set(json.loads(text)) == {"format", "version", "groups", "custom_groups", "userdata", "events", "forward"}
    for secret in (BROKER_PASSWORD, "password", "username", "tls", "mqtt"):
        assert secret not in text


def test_export_never_reads_the_device_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import flowengine.config

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("config export must not load the device config (it holds credentials)")

    monkeypatch.setattr(flowengine.config, "load_device_config", forbidden)
    assert configfile.export_config(tmp_path)["format"] == configfile.FORMAT


@pytest.mark.broker
def test_a_retained_request_runs_when_live_but_is_never_replayed(
    broker: Mosquitto, tmp_path: Path, client_id: str
) -> None:
    config = device(broker, tmp_path / "state", client_id)
    running = RunningAgent(config)
    platform = Platform(broker.port, f"v1/{client_id}").wait_ready()
    topic = f"{platform.root}/app/control"
    stale = json.dumps({"client_token": "stale", "app.wifi_mode_2g": 1}).encode()
    try:
        platform.client.publish(topic, stale, qos=1, retain=True).wait_for_publish(5)
        assert platform.wait("app/control/resp", lambda r: r.get("client_token") == "stale")["result"]
        assert platform.request("app/control", {"app.wifi_mode_2g": 0}, when_free=True)["result"]
        running.stop()
        running = RunningAgent(config)  # subscribing again: the broker hands over its retained copy
        replay = platform.wait("app/control/resp", lambda r: r.get("client_token") == "stale")
        assert (replay["error"], replay["error_desc"][:7]) == ("invalid_parameter", "retain:")
        assert platform.request("app/refresh")["result"]["app.wifi_mode_2g"] == 0
    finally:
        platform.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)  # clear it on the broker
        platform.close()
        running.stop()
