"""``flowengine config``: export, import and restore the FlexAPI configuration of a state dir.

None of them can mislead:

- a state dir that does not exist is an error (a typo would otherwise export
  defaults or import into a directory no agent reads), unless ``--create``;
- import and restore-defaults switch every file in at once (a crash leaves the old
  configuration or the new one);
- when an agent runs on the state dir, it applies the new configuration live
  (the nodes that read it restart) and the command says so; an agent that does
  not answer gets nothing written, and one that cannot apply it gets the previous
  configuration back. Without a running agent the command says the next start
  uses it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from flowengine.control import ControlError, ask_agent, running_agent
from flowengine.errors import FlowConfigError, StateError
from nodes.flexapi import configfile

#: Seconds a running agent has to answer: a ping before anything is written, then applying the change.
PING_TIMEOUT = 10.0
APPLY_TIMEOUT = 60.0
APPLY_REQUEST = {"package": "flexapi", "action": "config-changed"}


def add_config_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    summary = (
        "export, import or restore the FlexAPI configuration (groups, custom groups, user data, events, "
        "forward); a running agent applies an import at once"
    )
    config = commands.add_parser("config", help=summary, description=summary)
    actions = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = _action(actions, "export", "write the configuration of the state dir to FILE (JSON)")
    export.add_argument("file", type=Path, help="where to write the configuration")
    imported = _action(
        actions,
        "import",
        "replace the configuration of the state dir with FILE: all files at once; an agent running on the "
        "state dir applies it live (or nothing is changed and the command says why)",
    )
    imported.add_argument("file", type=Path, help="a configuration written by `config export`")
    _action(
        actions,
        "restore-defaults",
        "every group back to its defaults, custom groups and user data removed; applied live like an import",
    )
    config.set_defaults(handler=cmd_config)


def _action(
    actions: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str
) -> argparse.ArgumentParser:
    action = actions.add_parser(name, help=summary, description=summary)
    action.add_argument(
        "--state-dir",
        type=Path,
        default=Path("state"),
        metavar="DIR",
        help="the agent's state dir (default ./state); it must exist",
    )
    action.add_argument(
        "--create", action="store_true", help="create the state dir when it does not exist (a new device)"
    )
    return action


def cmd_config(args: argparse.Namespace) -> int:
    if args.action == "export":
        state_dir = existing_state_dir(args.state_dir, args.create)
        args.file.write_text(json.dumps(configfile.export_config(state_dir), indent=2) + "\n")
        print(f"exported the configuration of {state_dir} to {args.file}")
        return 0
    if args.action == "import":
        files = configfile.plan_import(read_config(args.file))
        state_dir = existing_state_dir(args.state_dir, args.create)
        change(state_dir, files, f"imported {args.file} into {state_dir}")
        return 0
    state_dir = existing_state_dir(args.state_dir, args.create)
    change(state_dir, configfile.plan_defaults(), f"restored the defaults in {state_dir}")
    return 0


def read_config(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FlowConfigError(f"{path}: cannot read a JSON configuration: {exc}") from exc


def existing_state_dir(state_dir: Path, create: bool) -> Path:
    """The state dir; refuses one that does not exist (unless ``create``) or is not a directory."""
    if state_dir.is_dir():
        return state_dir
    if state_dir.exists():
        raise FlowConfigError(f"--state-dir {state_dir}: not a directory")
    if not create:
        raise FlowConfigError(
            f"--state-dir {state_dir}: no such directory, so no agent keeps its state there; "
            "check the path (the agent's --state-dir), or pass --create to start a new one"
        )
    state_dir.mkdir(parents=True)
    return state_dir


def change(state_dir: Path, files: configfile.StateFiles, done: str) -> None:
    """Switch the configuration's files in, and have a running agent apply them (or refuse, saying why)."""
    agent = running_agent(state_dir)
    if agent is not None:
        _check_answers(state_dir, agent)
    previous = configfile.plan_import(configfile.export_config(state_dir)) if agent is not None else None
    progress = Progress()
    _write(state_dir, files, progress)
    if agent is None or previous is None:
        progress.done(f"{done}; no agent runs on it: the next one started on it uses it")
        return
    reply = _apply(state_dir, agent, progress, done)
    if not reply.get("ok"):
        _write(state_dir, previous, progress)
        _apply(state_dir, agent, progress, "restored the previous configuration")
        raise FlowConfigError(
            f"the agent (pid {agent}) running on {state_dir} could not apply it: {reply.get('error')}; "
            "the previous configuration is back"
        )
    restarted = len(reply.get("restarted", []))
    progress.done(f"{done}; the running agent (pid {agent}) applied it ({restarted} node(s) restarted)")


def _check_answers(state_dir: Path, agent: int) -> None:
    """Before anything is written: the running agent must answer, or the command refuses."""
    try:
        reply = ask_agent(state_dir, {"action": "ping"}, PING_TIMEOUT)
    except (ControlError, StateError) as exc:
        reply = {"ok": False, "error": str(exc)}
    if not reply.get("ok"):
        raise FlowConfigError(
            f"an agent (pid {agent}) runs on {state_dir} but does not answer ({reply.get('error')}); nothing was "
            "changed: try again, or stop the agent and run the command again"
        )


def _write(state_dir: Path, files: configfile.StateFiles, progress: Progress) -> None:
    try:
        configfile.apply(state_dir, files, progress.staging)
    except StateError as exc:
        raise FlowConfigError(f"nothing was changed: {exc}") from exc


def _apply(state_dir: Path, agent: int, progress: Progress, done: str) -> dict[str, Any]:
    try:
        return ask_agent(state_dir, APPLY_REQUEST, APPLY_TIMEOUT, progress.waiting(agent))
    except ControlError as exc:
        raise FlowConfigError(
            f"{done}, but the agent (pid {agent}) running on it did not confirm it applied it ({exc}); "
            "it uses it at its next start at the latest"
        ) from exc


class Progress:
    """One line that follows a long import on a terminal (staged files, waiting for the agent)."""

    def __init__(self) -> None:
        self.live = sys.stderr.isatty()
        self._shown = False

    def staging(self, done: int, total: int) -> None:
        self._show(f"staging {done}/{total} state file(s)")

    def waiting(self, agent: int) -> Any:
        return lambda seconds: self._show(f"waiting for the running agent (pid {agent}) to apply it: {seconds:.0f} s")

    def _show(self, text: str) -> None:
        if self.live:
            sys.stderr.write(f"\r\033[K{text}")
            sys.stderr.flush()
            self._shown = True

    def done(self, text: str) -> None:
        if self._shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
        print(text)
