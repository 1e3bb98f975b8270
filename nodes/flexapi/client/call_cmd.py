"""``flowengine call``: one request, or the same request to many devices, and what came back.

One device: the whole response is printed (pretty and coloured on a terminal,
compact JSON otherwise); exit 0 on ``result``, 1 on ``error``, 2 without an
answer. ``--devices``: every device at once over one connection, one line per
device as its answer arrives, exit status the worst of them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from rich.console import Console

from flowengine.errors import LinkError
from nodes.flexapi.client import calls
from nodes.flexapi.client.aio import AsyncFlexClient
from nodes.flexapi.client.connection import Response
from nodes.flexapi.client.errors import BadRequest, RequestTimeout

OK, ERROR, NO_ANSWER = 0, 1, 2
#: Requests in flight at once with --devices (the others wait; their timeout starts when they are sent).
MAX_IN_FLIGHT = 200
#: Longest result shown on a --devices line.
SHORT_RESULT = 100


def run_call(args: argparse.Namespace, options: dict[str, Any]) -> int:
    if args.devices == "-" and args.words[-1:] == ["-"]:
        raise BadRequest("--devices - and a JSON body of - cannot both read standard input")
    devices, path, body = parse_words(args.words, with_devices=args.devices is not None)
    if args.devices is not None:
        devices = read_devices(args.devices)
    try:
        return asyncio.run(_call(devices, path, body, args, options))
    except LinkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return NO_ANSWER


def parse_words(words: list[str], *, with_devices: bool) -> tuple[list[str], str, dict[str, Any]]:
    """``CLIENT_ID TOPIC [JSON]`` (``TOPIC [JSON]`` with --devices) -> (client ids, topic, body)."""
    expected = 1 if with_devices else 2
    if not expected <= len(words) <= expected + 1:
        shape = "TOPIC [JSON] with --devices" if with_devices else "CLIENT_ID TOPIC [JSON]"
        raise BadRequest(f"expected {shape}, got {len(words)} argument(s)")
    devices = [] if with_devices else [calls.check_device(words[0])]
    path = calls.check_path(words[expected - 1])
    body = parse_body(words[expected]) if len(words) > expected else {}
    return devices, path, body


def parse_body(text: str) -> dict[str, Any]:
    if text == "-":
        text = sys.stdin.read()
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise BadRequest(f"JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest(f"JSON: the request body must be an object, got {type(body).__name__}")
    return body


def read_devices(source: str) -> list[str]:
    """Client ids, one per line; blank lines and ``#`` comments skipped; every id checked before any is sent."""
    try:
        text = sys.stdin.read() if source == "-" else open(source, encoding="utf-8").read()  # noqa: SIM115
    except OSError as exc:
        raise BadRequest(f"--devices {source}: {exc.strerror}") from None
    devices = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    devices = [calls.check_device(d) for d in devices if d]
    if not devices:
        raise BadRequest(f"--devices {source}: no client ids")
    return devices


async def _call(devices: list[str], path: str, body: dict[str, Any], args: argparse.Namespace, options: Any) -> int:
    if args.token is not None:
        calls.check_token(args.token)
    async with AsyncFlexClient(client_id=devices[0], timeout=args.timeout, **options) as client:
        if args.devices is None:
            return await _one(client, path, body, args.token, sys.stdout)
        return await _many([client.device(d) for d in devices], path, body, args.token, sys.stdout)


async def _one(client: AsyncFlexClient, path: str, body: dict[str, Any], token: str | None, out: TextIO) -> int:
    try:
        answer = await client.exchange(path, body, token=token)
    except RequestTimeout as exc:
        print(f"timeout: {exc}", file=sys.stderr)
        return NO_ANSWER
    print_response(answer, out)
    return ERROR if "error" in answer else OK


async def _many(
    clients: Iterable[AsyncFlexClient], path: str, body: dict[str, Any], token: str | None, out: TextIO
) -> int:
    slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def one(client: AsyncFlexClient) -> int:
        async with slots:
            status, line = await _outcome(client, path, body, token)
        print(f"{client.client_id} {line}", file=out, flush=True)
        return status

    return max(await asyncio.gather(*(one(c) for c in clients)))


async def _outcome(client: AsyncFlexClient, path: str, body: dict[str, Any], token: str | None) -> tuple[int, str]:
    try:
        answer = await client.exchange(path, body, token=token)
    except RequestTimeout:
        return NO_ANSWER, f"timeout no answer within {client.timeout:g} s"
    if "error" in answer:
        return ERROR, f"error {answer['error']} {answer.get('error_desc', '')}".rstrip()
    return OK, f"ok {shorten(compact(answer.get('result')), SHORT_RESULT)}"


def print_response(answer: Response, out: TextIO) -> None:
    """Pretty and coloured on a terminal, one line of compact JSON otherwise."""
    if out.isatty():
        Console(file=out).print_json(data=answer)
    else:
        print(compact(answer), file=out, flush=True)


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
