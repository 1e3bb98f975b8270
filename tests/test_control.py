"""The agent's control channel: who runs on a state dir (``agent.pid`` under a lock), requests and replies."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import flowengine.control as control
from flowengine.control import AgentLock, ControlError, ControlServer, ask_agent, running_agent
from flowengine.mqtt.testing import LoopThread


def test_the_running_agent_is_the_one_holding_the_lock(tmp_path: Path) -> None:
    assert running_agent(tmp_path) is None
    lock = AgentLock(tmp_path)
    assert lock.acquire() is None
    assert running_agent(tmp_path) == os.getpid()
    assert AgentLock(tmp_path).acquire() == os.getpid()  # a second agent is told who runs
    lock.release()
    assert running_agent(tmp_path) is None and not (tmp_path / control.PID_FILE).exists()


def test_a_file_left_by_a_killed_agent_is_not_a_running_agent(tmp_path: Path) -> None:
    (tmp_path / control.PID_FILE).write_text("1\n")  # pid 1 runs, but holds no lock on the file
    assert running_agent(tmp_path) is None
    lock = AgentLock(tmp_path)
    assert lock.acquire() is None
    assert (tmp_path / control.PID_FILE).read_text() == f"{os.getpid()}\n"
    lock.release()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[list[dict[str, Any]]]:
    """A control server on its own loop that records requests and echoes them."""
    seen: list[dict[str, Any]] = []

    async def handler(request: dict[str, Any]) -> Mapping[str, Any]:
        seen.append(request)
        if request["action"] == "explode":
            raise RuntimeError("boom")
        return {"ok": True, "echo": request}

    loop = LoopThread()
    task = loop.call(_start(ControlServer(tmp_path, handler)))
    try:
        yield seen
    finally:
        loop.run(task.cancel)
        loop.close()


async def _start(server: ControlServer) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(server.serve())


def test_a_request_gets_its_reply_and_leaves_no_file(tmp_path: Path, served: list[dict[str, Any]]) -> None:
    reply = ask_agent(tmp_path, {"action": "hello", "n": 1}, timeout=5)
    assert reply == {"ok": True, "echo": {"action": "hello", "n": 1}}
    assert served == [{"action": "hello", "n": 1}]
    assert list((tmp_path / control.CONTROL_DIR).iterdir()) == []


def test_a_failing_or_malformed_request_is_answered_not_ok(tmp_path: Path, served: list[dict[str, Any]]) -> None:
    assert ask_agent(tmp_path, {"action": "explode"}, timeout=5) == {"ok": False, "error": "RuntimeError: boom"}
    assert ask_agent(tmp_path, {"no": "action"}, timeout=5)["ok"] is False


def test_nobody_answering_is_a_control_error_and_the_request_is_withdrawn(tmp_path: Path) -> None:
    waited: list[float] = []
    with pytest.raises(ControlError, match=r"did not take the request within 1\.2 s"):
        ask_agent(tmp_path, {"action": "ping"}, timeout=1.2, waiting=waited.append)
    assert waited and list((tmp_path / control.CONTROL_DIR).iterdir()) == []
