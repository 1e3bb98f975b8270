"""``flowengine config``: export, import and restore the FlexAPI configuration of a state dir."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from flowengine.errors import FlowConfigError
from nodes.flexapi import configfile


def add_config_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = commands.add_parser(
        "config",
        help="export, import or restore the FlexAPI configuration (groups, custom groups, user data, events, forward)",
    )
    actions = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="write the configuration of the state dir to FILE (JSON)")
    export.add_argument("file", type=Path, help="where to write the configuration")
    imported = actions.add_parser("import", help="replace the configuration of the state dir with FILE")
    imported.add_argument("file", type=Path, help="a configuration written by `config export`")
    reset = actions.add_parser("restore-defaults", help="every group back to its defaults; custom groups removed")
    for action in (export, imported, reset):
        action.add_argument(
            "--state-dir",
            type=Path,
            default=Path("state"),
            metavar="DIR",
            help="the agent's state dir (default ./state)",
        )
    config.set_defaults(handler=cmd_config)


def cmd_config(args: argparse.Namespace) -> int:
    if args.action == "export":
        args.file.write_text(json.dumps(configfile.export_config(args.state_dir), indent=2) + "\n")
        print(f"exported to {args.file}")
    elif args.action == "import":
        try:
            data = json.loads(args.file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise FlowConfigError(f"{args.file}: cannot read a JSON configuration: {exc}") from exc
        configfile.import_config(args.state_dir, data)
        print(f"imported {args.file} into {args.state_dir} (takes effect at the next start)")
    else:
        configfile.restore_defaults(args.state_dir)
        print(f"restored defaults in {args.state_dir} (takes effect at the next start)")
    return 0
