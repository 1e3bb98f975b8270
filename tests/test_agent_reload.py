"""The agent process reloads its flow directories on change and on SIGHUP, and keeps the last good flows."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowengine.testing import Mosquitto, wait_until

pytestmark = pytest.mark.broker


def inject_flow(payload: str) -> list[dict[str, object]]:
    return [
        {
            "id": "tick",
            "type": "inject",
            "once": True,
            "onceDelay": 0,
            "payload": payload,
            "payloadType": "str",
            "wires": [["log"]],
        },
        {"id": "log", "type": "debug", "complete": "payload", "wires": []},
    ]


@pytest.fixture
def agent(tmp_path: Path, broker: Mosquitto) -> Iterator[tuple[subprocess.Popen[bytes], Path, Path]]:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "mine.json").write_text(json.dumps(inject_flow("first")))
    log = tmp_path / "agent.log"
    command = [
        sys.executable,
        "-m",
        "flowengine",
        "run",
        "--no-default-flow",
        "--flows",
        str(flows),
        "--broker",
        broker.url,
        "--client-id",
        "reload-dev",
        "--state-dir",
        str(tmp_path / "state"),
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc, flows, log
    finally:
        proc.terminate()
        proc.wait(10)


def test_edit_break_and_sighup(agent: tuple[subprocess.Popen[bytes], Path, Path]) -> None:
    proc, flows, log = agent
    text = lambda: log.read_text(errors="replace")  # noqa: E731
    wait_until(lambda: '"first"' in text(), timeout=10, what="first flow running")

    (flows / "mine.json").write_text(json.dumps(inject_flow("second")))
    wait_until(lambda: '"second"' in text(), timeout=10, what="edited flow reloaded")

    (flows / "mine.json").write_text('[{"id": "tick", "type": "inject", "wires": [["nowhere"]]}]')
    wait_until(lambda: "the last good flows keep running" in text(), timeout=10, what="broken file rejected")
    assert "node tick: wires[0]: wired to missing node 'nowhere'" in text()

    (flows / "mine.json").write_text(json.dumps(inject_flow("third")))
    wait_until(lambda: '"third"' in text(), timeout=10, what="fixed flow reloaded")
    reloads = text().count("flows reloaded")
    proc.send_signal(signal.SIGHUP)
    wait_until(lambda: text().count("flows reloaded") > reloads, timeout=10, what="reload on SIGHUP")
    assert proc.poll() is None
