"""``flowengine run`` imports only what runs: no graph library, no sqlite, no simulator, no package commands."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flowengine.testing import free_port

#: Modules the agent must not import on its way to the first deploy (default flow, hardware backends).
NOT_ON_THE_RUN_PATH = (
    "networkx",  # checks and `graph` only
    "sqlite3",  # --offline-store only
    "nodes.sources.sim.vehicle",  # the simulator: --simulate only
    "nodes.sources.sim.commands",
    "nodes.sources.sim.ecu",
    "nodes.sources.sim.cli",
    "nodes.flexapi.config_cli",  # `flowengine config`
    "nodes.flexapi.client.commands",  # the platform client's commands
)

#: Runs the agent to its first deploy, prints the imported modules and stops it as SIGTERM would.
AGENT_TO_FIRST_DEPLOY = textwrap.dedent(
    """
    import json, logging, os, signal, sys
    from flowengine import cli

    class FirstDeploy(logging.Handler):
        def emit(self, record):
            if record.getMessage().startswith("agent running"):
                print(json.dumps(sorted(sys.modules)), flush=True)
                os.kill(os.getpid(), signal.SIGTERM)

    logging.getLogger("flowengine.agent").addHandler(FirstDeploy())
    sys.exit(cli.main(sys.argv[1:]))
    """
)


def imported(source: str, *args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", source, *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    modules: list[str] = json.loads(result.stdout.splitlines()[-1])
    return modules


def forbidden(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == f or m.startswith(f"{f}.") for f in NOT_ON_THE_RUN_PATH)]


def test_run_imports_only_what_runs(tmp_path: Path) -> None:
    broker = f"127.0.0.1:{free_port()}"  # nothing listens: the agent deploys while the link keeps trying
    modules = imported(AGENT_TO_FIRST_DEPLOY, "run", "--broker", broker, "--state-dir", str(tmp_path / "state"))
    assert "flowengine.runtime" in modules and "nodes.flexapi.plugin" in modules  # it did get that far
    assert forbidden(modules) == []


def test_the_parser_of_run_leaves_the_package_commands_out() -> None:
    source = (
        "import json, sys; from flowengine import cli; cli.build_parser('run'); print(json.dumps(sorted(sys.modules)))"
    )
    assert forbidden(imported(source)) == []


@pytest.mark.parametrize("command", ["config", "sim"])
def test_package_commands_still_run(command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flowengine", command, "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert f"usage: flowengine {command}" in result.stdout
