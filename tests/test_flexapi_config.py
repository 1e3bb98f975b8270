"""``flowengine config`` cannot mislead: missing state dirs, atomic import, a running agent applies it or it is refused."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from flexapi_support import Agent, Disk, device_config, start_agent

import flowengine.state
from flowengine.control import AgentLock, ControlServer
from flowengine.mqtt.testing import LoopThread
from flowengine.testing import wait_until
from nodes.flexapi import configfile
from nodes.flexapi.plugin import FlexApiPlugin

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "flowengine", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, cwd=REPO)


def wanted_config(gnss_interval: int = 30) -> dict[str, Any]:
    config = configfile.export_config(Path("/nonexistent"))
    config["groups"]["gnss"]["interval"] = gnss_interval
    config["custom_groups"] = [{"group_name": "trip", "interval": 5, "interest": {"gnss.speed": "v"}}]
    config["userdata"]["values"] = {"userdata.driver": "Bob"}
    return config


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "wanted.json"
    path.write_text(json.dumps(wanted_config()))
    return path


# -- a state dir that does not exist ------------------------------------------------------


def test_every_command_refuses_a_state_dir_that_does_not_exist(tmp_path: Path, config_file: Path) -> None:
    typo = tmp_path / "typo"
    for args in (["export", tmp_path / "out.json"], ["import", config_file], ["restore-defaults"]):
        result = cli("config", *args, "--state-dir", typo)
        assert result.returncode == 1, args
        assert f"--state-dir {typo}: no such directory" in result.stderr and "--create" in result.stderr
    assert not typo.exists() and not (tmp_path / "out.json").exists()


def test_create_starts_a_new_state_dir(tmp_path: Path, config_file: Path) -> None:
    new = tmp_path / "new"
    result = cli("config", "import", config_file, "--state-dir", new, "--create")
    assert result.returncode == 0, result.stderr
    assert "no agent runs on it: the next one started on it uses it" in result.stdout
    assert configfile.export_config(new)["custom_groups"][0]["group_name"] == "trip"


def test_a_state_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = cli("config", "export", tmp_path / "out.json", "--state-dir", tmp_path / "file", "--create")
    assert result.returncode == 1 and "not a directory" in result.stderr


def test_import_into_a_full_disk_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nodes.flexapi.config_cli import change

    state = tmp_path / "state"
    configfile.import_config(state, wanted_config(gnss_interval=30))
    disk = Disk()
    monkeypatch.setattr(flowengine.state, "write_atomic", disk.write)
    disk.fills_after = 2  # the disk fills while the new files are staged
    with pytest.raises(Exception, match="nothing was changed"):
        change(state, configfile.plan_import(wanted_config(gnss_interval=60)), "imported")
    monkeypatch.undo()
    assert configfile.export_config(state)["groups"]["gnss"]["interval"] == 30


# -- a running agent ----------------------------------------------------------------------


class FakeAgent:
    """Holds the state dir's lock and answers control requests as told (the agent's side, without flows)."""

    def __init__(self, state_dir: Path, answers: Mapping[str, Any] | None) -> None:
        self.lock = AgentLock(state_dir)
        assert self.lock.acquire() is None
        self.loop = LoopThread()
        self.asked: list[str] = []
        self.task = None
        if answers is not None:
            self.task = self.loop.call(self._serve(ControlServer(state_dir, self._answer)))
        self.answers = answers or {}

    async def _serve(self, server: ControlServer) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(server.serve())

    async def _answer(self, request: dict[str, Any]) -> Mapping[str, Any]:
        self.asked.append(request["action"])
        return self.answers.get(request["action"], {"ok": True})  # type: ignore[no-any-return]

    def close(self) -> None:
        if self.task is not None:
            self.loop.run(self.task.cancel)
        self.loop.close()
        self.lock.release()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A state dir with gnss at 30 s."""
    directory = tmp_path / "state"
    configfile.import_config(directory, {**wanted_config(gnss_interval=30), "custom_groups": [], "userdata": {}})
    return directory


def running(state: Path, answers: Mapping[str, Any] | None) -> Iterator[FakeAgent]:
    agent = FakeAgent(state, answers)
    try:
        yield agent
    finally:
        agent.close()


def test_an_agent_that_does_not_answer_gets_nothing_written(state: Path, config_file: Path) -> None:
    for _agent in running(state, answers=None):  # holds the lock, never answers
        result = cli("config", "import", config_file, "--state-dir", state)
        assert result.returncode == 1
        assert (
            "runs on" in result.stderr and "does not answer" in result.stderr and "nothing was changed" in result.stderr
        )
    assert configfile.export_config(state)["groups"]["gnss"]["interval"] == 30


def test_an_agent_that_cannot_apply_it_gets_the_previous_configuration_back(state: Path, config_file: Path) -> None:
    for agent in running(state, {"config-changed": {"ok": False, "error": "node group-gnss failed to start"}}):
        result = cli("config", "import", config_file, "--state-dir", state)
        assert result.returncode == 1
        assert "could not apply it: node group-gnss failed to start" in result.stderr
        assert "the previous configuration is back" in result.stderr
        assert agent.asked == ["ping", "config-changed", "config-changed"]  # told again after the roll-back
    exported = configfile.export_config(state)
    assert (exported["groups"]["gnss"]["interval"], exported["custom_groups"]) == (30, [])


def test_an_agent_that_applies_it_is_named_in_the_answer(state: Path, config_file: Path) -> None:
    for agent in running(state, {"config-changed": {"ok": True, "restarted": ["a", "b"]}}):
        result = cli("config", "import", config_file, "--state-dir", state)
        assert result.returncode == 0, result.stderr
        assert "the running agent (pid" in result.stdout and "applied it (2 node(s) restarted)" in result.stdout
        assert agent.asked == ["ping", "config-changed"]
        restored = cli("config", "restore-defaults", "--state-dir", state)
        assert restored.returncode == 0 and "restored the defaults" in restored.stdout
    assert configfile.export_config(state)["groups"]["gnss"]["interval"] == 10


# -- applying it: the nodes that read the configuration restart ------------------------------


def test_the_agent_applies_an_import_live(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with start_agent(state, device_config()) as h:
        agent = Agent(h)
        agent.request("userdata/set", {"insert": {"userdata.old": 1, "userdata.driver": "Ann"}})
        assert agent.store["userdata.old"] == 1
        configfile.import_config(state, wanted_config(gnss_interval=3))
        reply = h.call(FlexApiPlugin().control(h.runtime, {"package": "flexapi", "action": "config-changed"}))
        assert reply["ok"] and "group-gnss" in reply["restarted"] and "flexapi-custom-groups" in reply["restarted"]
        assert h.node("group-gnss").settings.interval == 3  # type: ignore[attr-defined]
        wait_until(lambda: "flexapi-custom-trip" in h.runtime.nodes, what="imported custom group running")
        assert agent.request("group/get")["result"] == wanted_config()["custom_groups"]
        assert agent.request("userdata/refresh")["result"] == {"userdata.driver": "Bob"}
        wait_until(lambda: agent.store.get("userdata.old", 0) is None, what="removed user data key invalid")
        assert agent.store["userdata.driver"] == "Bob"
        configfile.restore_defaults(state)
        h.call(FlexApiPlugin().control(h.runtime, {"package": "flexapi", "action": "config-changed"}))
        wait_until(lambda: "flexapi-custom-trip" not in h.runtime.nodes, what="custom group gone")
        assert h.node("group-gnss").settings.interval == 10  # type: ignore[attr-defined]


def test_the_agent_refuses_what_it_does_not_know(tmp_path: Path) -> None:
    with start_agent(tmp_path / "state", device_config()) as h:
        reply = h.call(FlexApiPlugin().control(h.runtime, {"package": "flexapi", "action": "reboot"}))
        assert reply == {"ok": False, "error": "unknown action 'reboot'"}
