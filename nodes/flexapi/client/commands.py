"""``flowengine call`` and ``flowengine watch``: their arguments (the work is imported when they run).

:func:`add_commands` adds both to the ``flowengine`` command line; the
connection flags are those of ``flowengine run``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from flowengine.cli import parse_broker  # the one parser of --broker HOST[:PORT]
from flowengine.config import PASSWORD_ENV

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 1883

CALL_USAGE = """flowengine call [options] CLIENT_ID TOPIC [JSON]
       flowengine call [options] --devices FILE|- TOPIC [JSON]"""
CALL_EPILOG = """examples:
  flowengine call VG7102021092401 gnss/refresh
  flowengine call VG7102021092401 obd/set '{"interval": 5, "interest": {"obd.rpm": "rpm"}}'
  flowengine call --devices fleet.txt sysinfo/refresh

exit status: 0 result, 1 error response (or a request that could not be made),
2 no answer within --timeout (or no broker); with --devices the worst of all."""
WATCH_EPILOG = """examples:
  flowengine watch VG7102021092401
  flowengine watch VG7102021092401 gnss io --plain | grep io/info"""


def add_commands(subparsers: Any) -> None:
    """Add ``call`` and ``watch`` to an argparse sub-parser collection."""
    add_call(subparsers.add_parser("call", **_texts("send a FlexAPI request and print its response", CALL_EPILOG)))
    add_watch(subparsers.add_parser("watch", **_texts("live view of what a FlexAPI device publishes", WATCH_EPILOG)))


def _texts(summary: str, epilog: str) -> dict[str, Any]:
    return {
        "help": summary,
        "description": summary[0].upper() + summary[1:] + ".",
        "epilog": epilog,
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }


def add_call(call: argparse.ArgumentParser) -> None:
    call.usage = CALL_USAGE
    call.add_argument(
        "words",
        nargs="+",
        metavar="CLIENT_ID TOPIC [JSON]",
        help="the device's client id (not with --devices), the request topic below v1/CLIENT_ID "
        "(gnss/refresh, group/set, io/control ...) and the request body as a JSON object, "
        "without client_token (a client_token in it is used as is); - reads the body from standard input",
    )
    call.add_argument(
        "--devices",
        metavar="FILE",
        help="send the same request to every client id in FILE (one per line, # comments; - reads standard "
        "input) at once, and print one line per device: CLIENT_ID ok|error CODE|timeout ...",
    )
    call.add_argument("--timeout", type=float, default=5.0, metavar="S", help="seconds to wait for the answer (5)")
    call.add_argument("--token", help="the client_token to send (default: a fresh random one)")
    add_connection_flags(call)
    call.set_defaults(handler=_run_call)


def add_watch(watch: argparse.ArgumentParser) -> None:
    watch.add_argument("client_id", metavar="CLIENT_ID", help="the device's client id")
    watch.add_argument(
        "groups", nargs="*", metavar="GROUP", help="show only these groups (gnss io group1 ...); default: every group"
    )
    watch.add_argument(
        "--plain", action="store_true", help="print one line per message instead: TIME TOPIC COMPACT-JSON"
    )
    watch.add_argument("--count", type=int, metavar="N", help="stop after N messages (default: run until Ctrl-C)")
    watch.add_argument(
        "--rows", type=int, default=13, metavar="N", help="values shown per group panel, the rest counted (13)"
    )
    add_connection_flags(watch)
    watch.set_defaults(handler=_run_watch)


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    """The broker, credential and TLS flags of ``flowengine run``."""
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--broker", metavar="HOST[:PORT]", help=f"the MQTT broker the device uses ({DEFAULT_HOST}:{DEFAULT_PORT})"
    )
    group.add_argument("--username", help="MQTT user name")
    group.add_argument("--password", help=f"MQTT password; prefer the {PASSWORD_ENV} environment variable")
    group.add_argument("--tls-ca", type=Path, metavar="FILE", help="CA certificates: connect with TLS, verified")
    group.add_argument("--tls-cert", type=Path, metavar="FILE", help="client certificate for TLS")
    group.add_argument("--tls-key", type=Path, metavar="FILE", help="client key for TLS")
    group.add_argument(
        "--tls-insecure", action="store_true", help="do not verify the broker's certificate (never in production)"
    )
    group.add_argument("--topic-prefix", default="", metavar="P", help="the device's custom topic prefix: P/v1/...")
    group.add_argument(
        "--log-level", default="error", choices=["debug", "info", "warning", "error"], help="log detail (error)"
    )


def connection_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of the clients from the connection flags."""
    host, port = parse_broker(args.broker)
    return {
        "host": host or DEFAULT_HOST,
        "port": port or DEFAULT_PORT,
        "topic_prefix": args.topic_prefix,
        "username": args.username,
        "password": args.password or os.environ.get(PASSWORD_ENV) or None,
        "tls_ca": args.tls_ca,
        "tls_cert": args.tls_cert,
        "tls_key": args.tls_key,
        "tls_insecure": args.tls_insecure,
    }


# The commands' modules (and rich) are imported only when one of them runs: every other command starts faster.


def _run_call(args: argparse.Namespace) -> int:
    from nodes.flexapi.client.call_cmd import run_call

    return run_call(args, connection_options(args))


def _run_watch(args: argparse.Namespace) -> int:
    from nodes.flexapi.client.watch_cmd import run_watch

    return run_watch(args, connection_options(args))
