"""The ``flowengine`` command line (see DESIGN.md, "Command line")."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flowengine import __version__
from flowengine.errors import FlowConfigError, FlowError

log = logging.getLogger("flowengine")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _setup_logging(getattr(args, "log_level", "info"))
    try:
        return int(args.handler(args) or 0)
    except FlowConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except FlowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowengine", description=__doc__)
    parser.add_argument("--version", action="version", version=f"flowengine {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub.add_parser("run", help="run the device agent (default flow + your flows, hot-reloaded)"))
    validate = sub.add_parser("validate", help="check flow files; exit 1 listing every problem")
    validate.add_argument("paths", nargs="+", type=Path, help="flow files or directories of *.json")
    validate.set_defaults(handler=cmd_validate)
    graph = sub.add_parser("graph", help="print the wiring of flow files")
    graph.add_argument("paths", nargs="+", type=Path)
    graph.add_argument("--format", choices=["text", "dot", "svg"], default="text")
    graph.add_argument("--state-dir", type=Path, help="also show nodes generated from this state dir (custom groups)")
    graph.add_argument("--output", "-o", type=Path, help="write to this file instead of stdout")
    graph.set_defaults(handler=cmd_graph)
    nodes = sub.add_parser("nodes", help="list node types, or write the node reference (--markdown)")
    nodes.add_argument("--markdown", action="store_true")
    nodes.set_defaults(handler=cmd_nodes)
    _add_config(sub.add_parser("config", help="export, import or reset the FlexAPI configuration"))
    # TEMPORARY until the CLI plugin seam lands (the lead moves this line there): `call` and `watch`.
    importlib.import_module("nodes.flexapi.client.commands").add_commands(sub)
    return parser


def _add_run(run: argparse.ArgumentParser) -> None:
    run.add_argument("--config", type=Path, help="device config file (TOML or JSON)")
    run.add_argument(
        "--flows", type=Path, action="append", default=[], metavar="DIR", help="directory of *.json flows (repeatable)"
    )
    run.add_argument("--no-default-flow", action="store_true", help="do not load the shipped FlexAPI agent flow")
    run.add_argument("--simulate", action="store_true", default=None, help="run every source on its simulated backend")
    run.add_argument("--broker", metavar="HOST[:PORT]")
    run.add_argument("--client-id")
    run.add_argument("--username")
    run.add_argument("--password", help="prefer the FLOWENGINE_PASSWORD environment variable")
    run.add_argument("--tls-ca", type=Path)
    run.add_argument("--tls-cert", type=Path)
    run.add_argument("--tls-key", type=Path)
    run.add_argument("--tls-insecure", action="store_true", default=None)
    run.add_argument("--keepalive", type=int)
    run.add_argument("--clean-session", action="store_true", default=None)
    run.add_argument("--qos", type=int, choices=[0, 1])
    run.add_argument("--topic-prefix")
    run.add_argument("--include-invalid", action="store_true", default=None)
    run.add_argument("--offline-store", action="store_true", default=None)
    run.add_argument("--state-dir", type=Path)
    run.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    run.set_defaults(handler=cmd_run)


def _add_config(config: argparse.ArgumentParser) -> None:
    actions = config.add_subparsers(dest="action", required=True)
    for name, help_text in (("export", "write the configuration to FILE"), ("import", "replace it with FILE")):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("file", type=Path)
        action.add_argument("--state-dir", type=Path, default=Path("state"))
    reset = actions.add_parser("restore-defaults", help="every group back to its defaults; custom groups removed")
    reset.add_argument("--state-dir", type=Path, default=Path("state"))
    config.set_defaults(handler=cmd_config)


def device_config_from(args: argparse.Namespace) -> Any:
    """The device config: the --config file, overridden by the flags that were given."""
    from flowengine.config import load_device_config

    host, port = _broker(args.broker)
    overrides = {
        "mqtt.host": host,
        "mqtt.port": port,
        "mqtt.client_id": args.client_id,
        "mqtt.username": args.username,
        "mqtt.password": args.password,
        "mqtt.tls_ca": args.tls_ca,
        "mqtt.tls_cert": args.tls_cert,
        "mqtt.tls_key": args.tls_key,
        "mqtt.tls_insecure": args.tls_insecure,
        "mqtt.keepalive": args.keepalive,
        "mqtt.clean_session": args.clean_session,
        "mqtt.qos": args.qos,
        "mqtt.topic_prefix": args.topic_prefix,
        "flexapi.include_invalid": args.include_invalid,
        "flexapi.offline_store": args.offline_store,
        "simulate": args.simulate,
        "state_dir": args.state_dir,
    }
    return load_device_config(args.config, overrides)


def _broker(value: str | None) -> tuple[str | None, int | None]:
    if not value:
        return None, None
    host, sep, port = value.rpartition(":")
    if not sep or "]" in port:
        return value, None
    if not port.isdigit():
        raise FlowConfigError(f"--broker: port {port!r} is not a number")
    return host.strip("[]"), int(port)


def cmd_run(args: argparse.Namespace) -> int:
    from flowengine.agent import Agent

    config = device_config_from(args)
    for directory in args.flows:
        if not directory.is_dir():
            raise FlowConfigError(f"--flows {directory}: not a directory")
    agent = Agent(config, args.flows, default_flow=not args.no_default_flow)
    asyncio.run(agent.run())
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from flowengine.flowfile import load_flows
    from flowengine.graph import build_graph
    from flowengine.registry import NodeTypeRegistry

    flows = load_flows(args.paths)
    if not flows.files:
        raise FlowConfigError("no flow files found")
    graph = build_graph(flows, NodeTypeRegistry())
    print(f"ok: {len(flows.files)} file(s), {len(graph.specs)} node(s)")
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    from flowengine.agent import generated_nodes
    from flowengine.flowfile import flows_from_objects, load_flows
    from flowengine.graph import build_graph, describe, to_dot
    from flowengine.registry import NodeTypeRegistry

    flows = load_flows(args.paths)
    if args.state_dir:
        for name, objects in generated_nodes(args.state_dir).items():
            flows = flows_from_objects(name, objects, flows)
    graph = build_graph(flows, NodeTypeRegistry())
    if args.format == "text":
        text = "\n".join(describe(graph)) + "\n"
    else:
        text = to_dot(graph)
        if args.format == "svg":
            text = _render_svg(text)
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _render_svg(dot: str) -> str:
    import shutil
    import subprocess

    binary = shutil.which("dot")
    if binary is None:
        raise FlowError("--format svg needs graphviz's `dot` (apt-get install graphviz); --format dot works without it")
    return subprocess.run([binary, "-Tsvg"], input=dot, capture_output=True, text=True, check=True).stdout


def cmd_nodes(args: argparse.Namespace) -> int:
    from flowengine.nodedoc import node_reference, node_summary

    sys.stdout.write(node_reference() if args.markdown else node_summary())
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from nodes.flexapi import configfile

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


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


if __name__ == "__main__":
    sys.exit(main())
