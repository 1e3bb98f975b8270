"""The command line: validate lists every problem, graph draws the wiring, bad flags fail clearly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def flowengine(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowengine", *args], capture_output=True, text=True, timeout=60, cwd=cwd
    )


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.json"
    path.write_text(
        json.dumps(
            [
                {"id": "a", "type": "inject", "repeat": "soon", "wires": [["b"]]},
                {"id": "b", "type": "debug", "wires": [["missing"]]},
                {"id": "c", "type": "mystery", "wires": []},
            ]
        )
    )
    return path


def test_validate_lists_every_problem(broken: Path) -> None:
    result = flowengine("validate", str(broken))
    assert result.returncode == 1
    err = result.stderr
    assert "3 problem(s)" in err
    assert f"{broken}: node a: repeat:" in err
    assert f"{broken}: node b: wires[0]: output port 0 out of range (node has 0)" in err
    assert f"{broken}: node c: type: unknown node type 'mystery'" in err


def test_validate_ok(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps([{"id": "a", "type": "inject", "wires": [["b"]]}, {"id": "b", "type": "debug", "wires": []}])
    )
    result = flowengine("validate", "--no-default-flow", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "ok: 1 file(s), 2 node(s)" in result.stdout


def test_validate_checks_user_flows_with_the_default_flow(tmp_path: Path) -> None:
    user = [{"id": "tap", "type": "debug", "wiredFrom": ["flexapi-values"], "wires": []}]
    (tmp_path / "user.json").write_text(json.dumps(user))
    result = flowengine("validate", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "ok: 2 file(s)" in result.stdout
    (tmp_path / "user.json").write_text(json.dumps([*user, {"id": "flexapi-out", "type": "debug", "wires": []}]))
    clash = flowengine("validate", str(tmp_path))
    assert clash.returncode == 1
    assert "node flexapi-out: id: duplicate id (also in" in clash.stderr
    alone = flowengine("validate", "--no-default-flow", str(tmp_path))
    assert "node tap: wiredFrom[0]: no node 'flexapi-values' to be wired from" in alone.stderr


def test_validate_no_files(tmp_path: Path) -> None:
    result = flowengine("validate", str(tmp_path))
    assert result.returncode == 1
    assert "no flow files found" in result.stderr


def test_graph_text_and_dot(tmp_path: Path) -> None:
    flow = tmp_path / "f.json"
    flow.write_text(
        json.dumps([{"id": "a", "type": "inject", "wires": [["b"]]}, {"id": "b", "type": "debug", "wires": []}])
    )
    text = flowengine("graph", str(flow))
    assert text.returncode == 0, text.stderr
    assert "  inject [a]\n      -> debug [b]" in text.stdout
    dot = flowengine("graph", str(flow), "--format", "dot")
    assert '"a" -> "b";' in dot.stdout


def test_run_rejects_bad_client_id(tmp_path: Path) -> None:
    result = flowengine("run", "--client-id", "dev/1", "--state-dir", str(tmp_path), "--no-default-flow")
    assert result.returncode == 1
    assert "mqtt.client_id" in result.stderr and "'/'" in result.stderr


def test_run_rejects_oversized_client_id(tmp_path: Path) -> None:
    result = flowengine("run", "--client-id", "é" * 65, "--state-dir", str(tmp_path), "--no-default-flow")
    assert result.returncode == 1
    assert "1..128 bytes" in result.stderr


def test_run_rejects_bad_hardware_section_before_starting(tmp_path: Path) -> None:
    conf = tmp_path / "device.toml"
    conf.write_text('[mqtt]\nclient_id = "dev1"\nport = 1\n[sources.gnss]\nbaudrate = "fast"\n')
    result = flowengine("run", "--config", str(conf), "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 1
    assert "sources.gnss: node source-gnss: baudrate:" in result.stderr


def test_config_export_import_restore_and_graph_shows_custom_groups(tmp_path: Path) -> None:
    state = tmp_path / "state"
    exported = tmp_path / "exported.json"
    assert flowengine("config", "export", str(exported), "--state-dir", str(state), "--create").returncode == 0
    config = json.loads(exported.read_text())
    assert config["custom_groups"] == []
    config["custom_groups"] = [{"group_name": "trip", "interval": 5, "interest": {"gnss.speed": "speed"}}]
    config["groups"]["gnss"]["interval"] = 30
    wanted = tmp_path / "wanted.json"
    wanted.write_text(json.dumps(config))
    imported = flowengine("config", "import", str(wanted), "--state-dir", str(state))
    assert imported.returncode == 0, imported.stderr

    assert flowengine("config", "export", str(exported), "--state-dir", str(state)).returncode == 0
    again = json.loads(exported.read_text())
    assert again["groups"]["gnss"]["interval"] == 30
    assert [g["group_name"] for g in again["custom_groups"]] == ["trip"]

    default_flow = Path(__file__).resolve().parents[1] / "flows" / "default.json"
    graph = flowengine("graph", str(default_flow), "--state-dir", str(state))
    assert graph.returncode == 0, graph.stderr
    assert 'flexapi custom group "trip" [flexapi-custom-trip]' in graph.stdout

    assert flowengine("config", "restore-defaults", "--state-dir", str(state)).returncode == 0
    assert flowengine("config", "export", str(exported), "--state-dir", str(state)).returncode == 0
    assert json.loads(exported.read_text())["custom_groups"] == []


def test_config_import_rejects_bad_file_naming_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"format": "flowengine-flexapi-config", "version": 1, "groups": {"gnss": {"interval": -5}}})
    )
    result = flowengine("config", "import", str(bad), "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 1
    assert "interval" in result.stderr
    not_json = tmp_path / "not.json"
    not_json.write_text("{")
    assert (
        "cannot read a JSON configuration"
        in flowengine("config", "import", str(not_json), "--state-dir", str(tmp_path)).stderr
    )


def test_graph_svg_uses_graphviz_or_says_how_to_get_it(tmp_path: Path) -> None:
    import shutil

    flow = tmp_path / "f.json"
    flow.write_text(json.dumps([{"id": "a", "type": "inject", "wires": [["b"]]}, {"id": "b", "type": "debug"}]))
    result = flowengine("graph", str(flow), "--format", "svg")
    if shutil.which("dot"):
        assert result.returncode == 0 and "<svg" in result.stdout
    else:
        assert result.returncode == 1 and "apt-get install graphviz" in result.stderr


def test_every_command_and_flag_explains_itself() -> None:
    import argparse

    from flowengine.cli import build_parser

    missing = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {choice.dest: choice.help for choice in action._choices_actions}
                for name, sub in action.choices.items():
                    if not helps.get(name):
                        missing.append(f"{path} {name}")
                    walk(sub, f"{path} {name}")
            elif not action.help and not isinstance(action, argparse._HelpAction):
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(build_parser(), "flowengine")
    assert missing == []
