"""``flexapi io control``: ``io/control`` and ``io/toggle`` — drive the outputs through the io source, durably.

Acknowledge only the truth: the state the outputs are to end in is written to
disk first (nothing is driven when that fails), then the outputs are driven
through the io source the node refers to (``io``, drawn as an edge by
``flowengine graph``); when driving fails the file is rolled back and the answer
is ``device_error``. At start the saved outputs are driven again once the io
source is ready.

``io/toggle`` (``{"io.DO1": 1, "io.DO1_toggle_ms": 500}``) sets the level, answers,
and drives the opposite level after the delay (on the node's clock). The file
holds the level the pulse ends in from the start, so a restart during the pulse
ends it. A later control or toggle of the same output cancels its pending flip;
closing the node cancels them all (the next start drives the saved levels).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Annotated, Any, Protocol, runtime_checkable

from pydantic import Field

from flowengine.errors import DeviceIOError, StateError
from flowengine.node import NodeConfig, NodeRef
from nodes.flexapi import statefiles
from nodes.flexapi.control import INPUT_PULLUP_KEYS, OUTPUT_KEYS, parse_io_control, parse_io_toggle
from nodes.flexapi.envelope import RequestError
from nodes.flexapi.handler import FlexApiNode

#: Seconds the saved outputs wait at start for the io source to open its board.
RESTORE_WAIT = 30.0
RESTORE_RETRY = 0.2
#: Every key the outputs file may hold (whatever revision wrote it).
SAVED_KEYS = (*OUTPUT_KEYS, *INPUT_PULLUP_KEYS)


@runtime_checkable
class DigitalOutputs(Protocol):
    """What drives the outputs: ``apply_outputs`` raises DeviceIOError when the hardware fails or is absent."""

    async def apply_outputs(self, values: dict[str, int]) -> None: ...


class IoControlConfig(NodeConfig):
    io: Annotated[str, NodeRef("io source")] = Field(
        default="source-io", description="the io source node whose board drives the outputs"
    )


class IoControlNode(FlexApiNode[IoControlConfig]):
    """Answers io/control and io/toggle; keeps the outputs' final levels in ``io_outputs.json``."""

    Config = IoControlConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.saved: dict[str, int] = statefiles.load_io_outputs(self.state_dir, SAVED_KEYS)
        self._flips: dict[str, asyncio.Task[Any]] = {}

    async def on_start(self) -> None:
        if self.saved:
            self.create_task(self._restore(), "restore")

    def on_input(self, msg: Any) -> Any:
        return self.answer(msg)

    def board(self) -> DigitalOutputs | None:
        node = self.runtime.nodes.get(self.config.io)
        return node if isinstance(node, DigitalOutputs) else None

    async def _restore(self) -> None:
        """Drive the saved outputs once the io source works (it may still be opening its board)."""
        problem = await self._drive_until_done(dict(self.saved))
        if problem is None:
            self.log.info("restored outputs %s", self.saved)
        else:
            self.error(f"saved outputs not restored after {RESTORE_WAIT:.0f}s: {problem}")

    async def _drive_until_done(self, outputs: dict[str, int]) -> str | None:
        """Drive ``outputs``, retrying for :data:`RESTORE_WAIT` seconds; the last problem, or None."""
        deadline = self.clock.now() + RESTORE_WAIT
        problem = f"no io source {self.config.io!r} running"
        while self.clock.now() < deadline:
            board = self.board()
            if board is not None:
                try:
                    await board.apply_outputs(outputs)
                    return None
                except DeviceIOError as exc:
                    problem = str(exc)
            await self.clock.sleep(RESTORE_RETRY)
        return problem

    async def handle(self, request: dict[str, Any], body: dict[str, Any]) -> Any:
        if request["op"] == "toggle":
            pulses = parse_io_toggle(body)
            now = {key: level for key, (level, _) in pulses.items()}
            await self._drive({key: 1 - level for key, level in now.items()}, now)
            for key, (level, ms) in pulses.items():
                self._flips[key] = self.later(ms / 1000, functools.partial(self._flip, key, 1 - level), f"flip {key}")
        else:
            outputs = parse_io_control(body, self.revision.io_control_keys)
            await self._drive(outputs, outputs)
        return dict(body)

    async def _drive(self, final: dict[str, int], now: dict[str, int]) -> None:
        """Save ``final`` (what the outputs end in), then drive ``now``; roll the file back on failure."""
        board = self.board()
        if board is None:
            raise RequestError("device_error", "io: no digital output hardware is available")
        new = {**self.saved, **final}
        await self.save(statefiles.IO_OUTPUTS, new)
        try:
            await board.apply_outputs(now)
        except DeviceIOError as exc:
            kept = await self._roll_back(new)
            raise RequestError("device_error", f"io: applying outputs failed: {exc}{kept}") from None
        for key in now:
            self._cancel_flip(key)
        self.saved = new

    def _cancel_flip(self, key: str) -> None:
        flip = self._flips.pop(key, None)
        if flip is not None and flip is not asyncio.current_task():
            flip.cancel()

    async def _flip(self, key: str, level: int) -> None:
        """The end of a pulse: drive the level the file already holds."""
        self._flips.pop(key, None)
        problem = await self._drive_until_done({key: level})
        if problem is not None:
            self.error(f"{key}: the end of its toggle was not driven: {problem}; the next start drives it")

    async def _roll_back(self, written: dict[str, int]) -> str:
        """The outputs did not change: the file must say so too. When even that fails, say what the
        next start will drive (the answer must not hide it)."""
        try:
            await self.save(statefiles.IO_OUTPUTS, self.saved)
        except StateError as exc:
            self.log.error("io outputs file could not be rolled back (%s); the next start drives what it says", exc)
            return f"; the saved outputs could not be rolled back ({exc}): the next start drives {written}"
        return ""

    async def on_close(self) -> None:
        for flip in self._flips.values():
            flip.cancel()
        self._flips.clear()
