"""The ``flowengine`` command line.

``run``, ``validate``, ``graph`` and ``nodes`` belong to the runtime; installed
node packages add their own commands and ``run`` options (see
:mod:`flowengine.plugins`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flowengine import __version__
from flowengine.errors import FlowConfigError, FlowError
from flowengine.plugins import plugins

log = logging.getLogger("flowengine")
#: Requests, answers and publishes, one line each, at DEBUG: ``run --trace`` turns it on alone.
TRACE_LOGGER = "flowengine.trace"

DESCRIPTION = """\
A Node-RED-style flow runtime. `run` starts the device agent: the shipped default
flow plus your flow directories, hot-reloaded. The other commands check, draw and
document flows, or manage the state of installed node packages.
Documentation: docs/index.md in the flowengine source tree."""


#: The runtime's own commands: the parser built for one of them leaves the packages' commands out.
COMMANDS = ("run", "validate", "graph", "nodes")


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command(argv)
    # Start-up makes objects that live as long as the agent: no collection until it runs (Agent.run).
    paused = command == "run" and gc.isenabled()
    if paused:
        gc.disable()
    try:
        parser = build_parser(command)
        args = parser.parse_args(argv)
        args.resume_gc = paused
        setup_logging(getattr(args, "log_level", "info"))
        return int(args.handler(args) or 0)
    except FlowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if paused:
            gc.enable()


def _command(argv: Sequence[str]) -> str | None:
    """The command named on the command line (None: none, or only ``--help``/``--version``)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; for ``command``, one of the runtime's :data:`COMMANDS`, without the
    packages' commands: their modules (and what they import) load only when one of them runs."""
    parser = argparse.ArgumentParser(
        prog="flowengine", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"flowengine {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(sub.add_parser("run", help="run the device agent (default flow + your flows, hot-reloaded)"))
    _add_validate(
        sub.add_parser("validate", help="check flow files as `run` would load them; exit 1 listing every problem")
    )
    _add_graph(sub.add_parser("graph", help="draw the wiring of flow files (text, Graphviz DOT or SVG)"))
    nodes = sub.add_parser("nodes", help="list the installed node types, or write the node reference")
    nodes.add_argument("--markdown", action="store_true", help="print the whole node reference as Markdown")
    nodes.set_defaults(handler=cmd_nodes)
    if command not in COMMANDS:
        for plugin in plugins():
            plugin.add_commands(sub)
    return parser


def _add_run(run: argparse.ArgumentParser) -> None:
    run.add_argument("--config", type=Path, metavar="FILE", help="device config file (TOML, or JSON by extension)")
    run.add_argument(
        "--flows",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="directory of *.json flow files (repeatable)",
    )
    run.add_argument(
        "--no-default-flow", action="store_true", help="do not load the flows the installed packages ship as default"
    )
    run.add_argument("--simulate", action="store_true", default=None, help="run every source on its simulated backend")
    add_broker_options(run)
    run.add_argument("--keepalive", type=int, metavar="S", help="MQTT keepalive in seconds (default 60)")
    run.add_argument("--clean-session", action="store_true", default=None, help="start a clean MQTT session")
    run.add_argument("--qos", type=int, choices=[0, 1], help="QoS of everything the agent publishes (default 1)")
    run.add_argument(
        "--offline-store",
        action="store_true",
        default=None,
        help="keep durable messages on disk while the broker is out of reach (default: in memory)",
    )
    run.add_argument("--state-dir", type=Path, metavar="DIR", help="where durable state is kept (default ./state)")
    run.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log verbosity (default info)",
    )
    run.add_argument(
        "--trace",
        action="store_true",
        help="log one line per request, answer and published message (the 'flowengine.trace' logger)",
    )
    for plugin in plugins():
        plugin.add_run_options(run)
    run.set_defaults(handler=cmd_run)


def add_broker_options(parser: argparse.ArgumentParser) -> None:
    """Broker, credential and TLS flags, shared by every command that connects to a broker."""
    parser.add_argument("--broker", metavar="HOST[:PORT]", help="MQTT broker (default 127.0.0.1:1883)")
    parser.add_argument("--client-id", help="MQTT client id, 1..128 bytes of UTF-8 (default flowengine-<hostname>)")
    parser.add_argument("--username", help="MQTT user name")
    parser.add_argument("--password", help="MQTT password; prefer the FLOWENGINE_PASSWORD environment variable")
    parser.add_argument("--tls-ca", type=Path, metavar="FILE", help="CA certificate: turns TLS on, server verified")
    parser.add_argument(
        "--tls-cert", type=Path, metavar="FILE", help="client certificate for TLS client authentication"
    )
    parser.add_argument("--tls-key", type=Path, metavar="FILE", help="private key of --tls-cert")
    parser.add_argument(
        "--tls-insecure", action="store_true", default=None, help="do not verify the server certificate (testing only)"
    )
    parser.add_argument("--topic-prefix", metavar="P", help="prefix every topic with P/")


def _add_validate(validate: argparse.ArgumentParser) -> None:
    validate.add_argument("paths", nargs="+", type=Path, help="flow files, or directories of *.json flow files")
    validate.add_argument(
        "--no-default-flow", action="store_true", help="check these files alone, without the shipped default flows"
    )
    validate.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="device config `run` would use (client id, topic prefix, sections); default: the defaults",
    )
    validate.set_defaults(handler=cmd_validate)


def _add_graph(graph: argparse.ArgumentParser) -> None:
    graph.add_argument("paths", nargs="+", type=Path, help="flow files, or directories of *.json flow files")
    graph.add_argument("--format", choices=["text", "dot", "svg"], default="text", help="output format (default text)")
    graph.add_argument(
        "--state-dir", type=Path, metavar="DIR", help="also draw the nodes packages generate from this state dir"
    )
    graph.add_argument("--output", "-o", type=Path, metavar="FILE", help="write to FILE instead of stdout")
    graph.set_defaults(handler=cmd_graph)


def device_config_from(args: argparse.Namespace) -> Any:
    """The device config: the --config file, overridden by the flags that were given."""
    from flowengine.config import load_device_config

    overrides = {**broker_overrides(args), **_run_overrides(args)}
    for plugin in plugins():
        overrides.update(plugin.run_overrides(args))
    return load_device_config(args.config, overrides)


def broker_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Device config values of the broker flags (None where a flag was not given)."""
    host, port = parse_broker(args.broker)
    names = ("client_id", "username", "password", "tls_ca", "tls_cert", "tls_key", "tls_insecure", "topic_prefix")
    return {"mqtt.host": host, "mqtt.port": port, **{f"mqtt.{n}": getattr(args, n, None) for n in names}}


def _run_overrides(args: argparse.Namespace) -> Mapping[str, Any]:
    return {
        "mqtt.keepalive": args.keepalive,
        "mqtt.clean_session": args.clean_session,
        "mqtt.qos": args.qos,
        "mqtt.offline_store": args.offline_store,
        "simulate": args.simulate,
        "state_dir": args.state_dir,
    }


def parse_broker(value: str | None) -> tuple[str | None, int | None]:
    """``host``, ``host:port`` or ``[v6]:port`` -> (host, port)."""
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

    if args.trace:
        logging.getLogger(TRACE_LOGGER).setLevel(logging.DEBUG)
    config = device_config_from(args)
    for directory in args.flows:
        if not directory.is_dir():
            raise FlowConfigError(f"--flows {directory}: not a directory")
    agent = Agent(config, args.flows, default_flow=not args.no_default_flow, resume_gc=args.resume_gc)
    asyncio.run(agent.run())
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Check the flows as `run` would load them: with its device config and the variables it gives flows."""
    from flowengine.agent import default_flows, flow_environment
    from flowengine.config import load_device_config
    from flowengine.flowfile import flow_files, load_flows
    from flowengine.graph import build_graph
    from flowengine.registry import NodeTypeRegistry

    if not flow_files(args.paths):
        raise FlowConfigError("no flow files found")
    device = load_device_config(args.config)
    defaults = [] if args.no_default_flow else default_flows()
    flows = load_flows([*defaults, *args.paths], flow_environment(device))
    graph = build_graph(flows, NodeTypeRegistry(), device)
    for note in graph.notes:
        print(f"note: {note}")
    print(f"ok: {len(flows.files)} file(s), {len(graph.specs)} node(s)")
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    from flowengine.agent import generated_nodes
    from flowengine.flowfile import flows_from_objects, load_flows
    from flowengine.graph import build_graph
    from flowengine.picture import describe, to_dot
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


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


if __name__ == "__main__":
    sys.exit(main())
