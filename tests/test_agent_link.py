"""The agent process on a TLS broker and with a wrong password (end to end, `flowengine run`)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from flowengine.testing import BROKER_PASSWORD, Mosquitto, wait_until

pytestmark = pytest.mark.broker


class AgentProcess:
    """``flowengine run --simulate`` as a child process, its log in a file."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.log = tmp_path / "agent.log"
        command = [
            sys.executable,
            "-m",
            "flowengine",
            "run",
            "--simulate",
            "--state-dir",
            str(tmp_path / "state"),
            *args,
        ]
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(15)


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[list[AgentProcess]]:
    started: list[AgentProcess] = []
    yield started
    for agent in started:
        if agent.proc.poll() is None:
            agent.proc.kill()
            agent.proc.wait(5)


def refresh(port: int, client_id: str, password: str | None = None, timeout: float = 10.0) -> dict[str, object]:
    """Ask sysinfo/refresh as a platform on the plain listener until the agent answers."""
    answers: list[dict[str, object]] = []
    got = threading.Event()
    platform = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"platform-{client_id}")
    if password:
        platform.username_pw_set("device", password)
    platform.on_message = lambda c, u, m: (answers.append(json.loads(m.payload)), got.set())
    platform.connect("127.0.0.1", port)
    platform.subscribe(f"v1/{client_id}/sysinfo/refresh/resp", qos=1)
    platform.loop_start()
    try:
        for attempt in range(int(timeout / 1.1) + 1):  # the agent's minimum retry interval is 1 s
            platform.publish(f"v1/{client_id}/sysinfo/refresh", json.dumps({"client_token": f"t{attempt}"}), qos=1)
            if got.wait(1.1) and "result" in answers[-1]:
                return answers[-1]
        raise AssertionError(f"no sysinfo/refresh answer from {client_id}: {answers}")
    finally:
        platform.loop_stop()
        platform.disconnect()


def test_agent_over_tls_answers(
    tls_broker: tuple[Mosquitto, int, Path], agents: list[AgentProcess], tmp_path: Path
) -> None:
    broker, tls_port, ca = tls_broker
    agents.append(
        AgentProcess(tmp_path, "--broker", f"127.0.0.1:{tls_port}", "--tls-ca", str(ca), "--client-id", "tls-dev")
    )
    answer = refresh(broker.port, "tls-dev")
    assert answer["client_token"].startswith("t")  # type: ignore[union-attr]
    assert isinstance(answer["result"]["sysinfo.hostname"], str)  # type: ignore[index]
    assert agents[0].stop() == 0


def test_wrong_password_keeps_retrying_and_never_crashes(
    auth_broker: Mosquitto, agents: list[AgentProcess], tmp_path: Path
) -> None:
    wrong = "wrong-" + BROKER_PASSWORD
    agent = AgentProcess(
        tmp_path, "--broker", auth_broker.url, "--client-id", "pw-dev", "--username", "device", "--password", wrong
    )
    agents.append(agent)
    wait_until(lambda: agent.text().count("not authorised") >= 3, timeout=20, what="three refused connects logged")
    assert agent.proc.poll() is None, "the agent must keep running"
    assert "retrying in" in agent.text()
    assert agent.stop() == 0
    assert BROKER_PASSWORD not in agent.text()


def test_right_password_from_environment(
    auth_broker: Mosquitto, agents: list[AgentProcess], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWENGINE_PASSWORD", BROKER_PASSWORD)
    agents.append(AgentProcess(tmp_path, "--broker", auth_broker.url, "--client-id", "env-dev", "--username", "device"))
    answer = refresh(auth_broker.port, "env-dev", password=BROKER_PASSWORD)
    assert "sysinfo.hostname" in answer["result"]  # type: ignore[operator]
    assert BROKER_PASSWORD not in agents[0].text()


def test_unused_hardware_section_is_reported(broker: Mosquitto, agents: list[AgentProcess], tmp_path: Path) -> None:
    conf = tmp_path / "device.toml"
    conf.write_text('[sources.gnns]\nport = "/dev/ttyS1"\n')
    agent = AgentProcess(tmp_path, "--config", str(conf), "--broker", broker.url, "--client-id", "typo-dev")
    agents.append(agent)
    wait_until(lambda: "[sources.gnns] is not used" in agent.text(), timeout=10, what="warning about the typo")
    assert agent.proc.poll() is None
