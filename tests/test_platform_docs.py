"""The Python examples of docs/platform.md run as written against a simulated agent.

Snippets name the broker and device on one line (``BROKER_HOST, BROKER_PORT,
CLIENT_ID = ...``), which is pointed at the test's broker and agent; the
integrator's pytest module runs under pytest with ``FLEXAPI_BROKER`` set, and
starts its own agent as the page says.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from agent_support import REPO, Platform, RunningAgent, has_values

from flowengine.testing import Mosquitto, wait_until

pytestmark = [pytest.mark.broker, pytest.mark.slow]

PAGE = REPO / "docs" / "platform.md"
TARGET = re.compile(r"^BROKER_HOST, BROKER_PORT, CLIENT_ID = .*$", re.M)


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)


def snippets() -> list[str]:
    return [block for block in python_blocks() if TARGET.search(block)]


def test_the_page_has_its_examples() -> None:
    assert len(snippets()) == 3 and len([b for b in python_blocks() if "def test_" in b]) == 1


def test_the_snippets_run_against_a_simulated_agent(
    agent: RunningAgent, platform: Platform, broker: Mosquitto, client_id: str, tmp_path: Path
) -> None:
    wait_until(has_values(agent, "gnss", "obd", "io", "sysinfo"), 10)
    target = f"BROKER_HOST, BROKER_PORT, CLIENT_ID = '127.0.0.1', {broker.port}, {client_id!r}"
    for number, snippet in enumerate(snippets()):
        script = tmp_path / f"snippet{number}.py"
        script.write_text(TARGET.sub(target, snippet))
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"snippet {number}:\n{snippet}\n{done.stderr}"
    assert agent.runtime.nodes["group-obd"].settings.interval == 5  # the first snippet's set reached the device


def test_the_integration_suite_passes_against_its_own_simulated_agent(broker: Mosquitto, tmp_path: Path) -> None:
    (suite,) = [block for block in python_blocks() if "def test_" in block]
    (tmp_path / "test_fleet_integration.py").write_text(suite)
    env = {**os.environ, "FLEXAPI_BROKER": broker.url}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_fleet_integration.py"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "4 passed" in done.stdout, done.stdout + done.stderr
