"""``flowengine run`` imports only what runs (no graph library, sqlite, simulator, package commands or file
watcher without flow directories) and collects no garbage until its first deploy is done."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

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
    "watchdog",  # --flows directories only
)

#: Runs the agent to its first deploy, prints the imported modules and the collector's state, then again
#: the collector's state a while later, and stops the agent as SIGTERM would.
AGENT_TO_FIRST_DEPLOY = textwrap.dedent(
    """
    import gc, json, logging, os, signal, sys, threading
    from flowengine import agent, cli

    def later():
        print(json.dumps({"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}), flush=True)
        os.kill(os.getpid(), signal.SIGTERM)

    class FirstDeploy(logging.Handler):
        def emit(self, record):
            if record.getMessage().startswith("agent running"):
                print(json.dumps(sorted(sys.modules)), flush=True)
                print(json.dumps({"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}), flush=True)
                threading.Timer(agent.GC_RESUME_DELAY + 1.0, later).start()

    logging.getLogger("flowengine.agent").addHandler(FirstDeploy())
    sys.exit(cli.main(sys.argv[1:]))
    """
)


def output(source: str, *args: str) -> list[Any]:
    result = subprocess.run(
        [sys.executable, "-c", source, *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def forbidden(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == f or m.startswith(f"{f}.") for f in NOT_ON_THE_RUN_PATH)]


@pytest.fixture(scope="module")
def first_deploy(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """What ``flowengine run`` (default flow, hardware backends) printed at its first deploy and later."""
    state = tmp_path_factory.mktemp("lazy") / "state"
    broker = f"127.0.0.1:{free_port()}"  # nothing listens: the agent deploys while the link keeps trying
    return output(AGENT_TO_FIRST_DEPLOY, "run", "--broker", broker, "--state-dir", str(state))


def test_run_imports_only_what_runs(first_deploy: list[Any]) -> None:
    modules = first_deploy[0]
    assert "flowengine.runtime" in modules and "nodes.flexapi.plugin" in modules  # it did get that far
    assert forbidden(modules) == []


def test_no_garbage_collection_until_the_first_deploy_then_startup_objects_frozen(first_deploy: list[Any]) -> None:
    assert first_deploy[1] == {"enabled": False, "frozen": 0}
    later = first_deploy[2]
    assert later["enabled"] and later["frozen"] > 10_000


def test_the_parser_of_run_leaves_the_package_commands_out() -> None:
    source = (
        "import json, sys; from flowengine import cli; cli.build_parser('run'); print(json.dumps(sorted(sys.modules)))"
    )
    assert forbidden(output(source)[0]) == []


@pytest.mark.parametrize("command", ["config", "sim"])
def test_package_commands_still_run(command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flowengine", command, "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert f"usage: flowengine {command}" in result.stdout
