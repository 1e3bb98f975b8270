"""``flowengine watch``: everything a device publishes, as a live terminal view or one line per message.

Subscribes to the device's whole root (``v1/{client_id}/#``). ``--plain``
prints ``TIME TOPIC COMPACT-JSON`` per message for scripts; otherwise a rich
view (:mod:`.watch_view`) redraws twice a second on the terminal's alternate
screen. Ctrl-C or SIGTERM ends both (exit status 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import shlex
import signal
import sys
import threading
import time
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live

from flowengine.errors import LinkError
from nodes.flexapi.client.aio import AsyncFlexClient
from nodes.flexapi.client.watch_state import WatchState, decode
from nodes.flexapi.client.watch_view import render

#: Seconds between redraws of the live view (ages are shown to the second).
REDRAW = 0.5


def run_watch(args: argparse.Namespace, options: dict[str, Any]) -> int:
    try:
        return asyncio.run(_watch(args, options))
    except KeyboardInterrupt:
        return 0
    except LinkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


async def _watch(args: argparse.Namespace, options: dict[str, Any]) -> int:
    client = AsyncFlexClient(client_id=args.client_id, **options)
    state = WatchState(client.root, args.groups)
    done = asyncio.Event()
    _stop_on_sigterm(done)
    await client.connect()
    try:
        state.link(True, "connected", time.monotonic())
        client.add_state_listener(lambda up, why: state.link(up, why, time.monotonic()))
        printer = _Printer(sys.stdout, client.root) if args.plain else None
        client.listen("#", _Receiver(state, printer, args.count, done))
        if printer is not None:
            await done.wait()
        else:
            await _live(state, done, args, options)
    finally:
        await client.close()
    return 0


def _stop_on_sigterm(done: asyncio.Event) -> None:
    """SIGTERM ends the view as Ctrl-C does, so the terminal is restored (a script stopping its watcher)."""
    if threading.current_thread() is threading.main_thread():
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, done.set)


class _Receiver:
    """Feeds each wanted message to the state (and the printer), and says when ``--count`` is reached."""

    def __init__(self, state: WatchState, printer: _Printer | None, count: int | None, done: asyncio.Event) -> None:
        self.state, self.printer, self.count, self.done = state, printer, count, done

    def __call__(self, path: str, payload: bytes) -> None:
        if not self.state.wants(path) or self.done.is_set():
            return
        self.state.message(path, payload, time.monotonic(), time.time())
        if self.printer is not None:
            self.printer.line(path, payload)
        if self.count is not None and self.state.messages >= self.count:
            self.done.set()


class _Printer:
    """``TIME TOPIC COMPACT-JSON``, one line per message, flushed (for pipes)."""

    def __init__(self, out: TextIO, root: str) -> None:
        self.out, self.root = out, root

    def line(self, path: str, payload: bytes) -> None:
        stamp = datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")
        text = json.dumps(decode(payload), ensure_ascii=False, separators=(",", ":"))
        print(f"{stamp} {self.root}/{path} {text}", file=self.out, flush=True)


async def _live(state: WatchState, done: asyncio.Event, args: argparse.Namespace, options: dict[str, Any]) -> None:
    where = f"{options['host']}:{options['port']}"
    hint = call_hint(args.client_id, where, options)

    def screen() -> Any:
        return render(state, time.monotonic(), rows=args.rows, where=where, call_hint=hint)

    with Live(screen(), console=Console(), screen=True, auto_refresh=False) as live:
        while not done.is_set():
            live.update(screen(), refresh=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), REDRAW)


def call_hint(client_id: str, where: str, options: dict[str, Any]) -> str:
    """The ``flowengine call`` command line that reaches the watched device."""
    words = ["flowengine", "call", "--broker", where]
    if options.get("topic_prefix"):
        words += ["--topic-prefix", options["topic_prefix"]]
    return shlex.join([*words, client_id]) + " TOPIC [JSON]"
