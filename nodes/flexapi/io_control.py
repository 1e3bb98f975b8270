"""``flexapi io control``: ``io/control`` — set digital outputs through the io source, durably.

Acknowledge only the truth: the new outputs are written to disk first (nothing
is driven when that fails), then driven through the io source the node refers to
(``io``, drawn as an edge by ``flowengine graph``); when driving fails the file is
rolled back and the answer is ``device_error``. At start the saved outputs are
driven again once the io source is ready.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol, runtime_checkable

from pydantic import Field

from flowengine.errors import DeviceIOError, StateError
from flowengine.node import NodeConfig, NodeRef
from nodes.flexapi import statefiles
from nodes.flexapi.control import OUTPUT_KEYS, parse_io_control
from nodes.flexapi.envelope import RequestError
from nodes.flexapi.handler import FlexApiNode

#: Seconds the saved outputs wait at start for the io source to open its board.
RESTORE_WAIT = 30.0
RESTORE_RETRY = 0.2


@runtime_checkable
class DigitalOutputs(Protocol):
    """What drives the outputs: ``apply_outputs`` raises DeviceIOError when the hardware fails or is absent."""

    async def apply_outputs(self, values: dict[str, int]) -> None: ...


class IoControlConfig(NodeConfig):
    io: Annotated[str, NodeRef("io source")] = Field(
        default="source-io", description="the io source node whose board drives the outputs"
    )


class IoControlNode(FlexApiNode[IoControlConfig]):
    """Answers io/control; keeps the last accepted outputs in ``io_outputs.json``."""

    Config = IoControlConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.saved: dict[str, int] = statefiles.load_io_outputs(self.state_dir, OUTPUT_KEYS)

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
        deadline = self.clock.now() + RESTORE_WAIT
        problem = f"no io source {self.config.io!r} running"
        while self.clock.now() < deadline:
            board = self.board()
            if board is not None:
                try:
                    await board.apply_outputs(dict(self.saved))
                    self.log.info("restored outputs %s", self.saved)
                    return
                except DeviceIOError as exc:
                    problem = str(exc)
            await self.clock.sleep(RESTORE_RETRY)
        self.error(f"saved outputs not restored after {RESTORE_WAIT:.0f}s: {problem}")

    async def handle(self, request: dict[str, Any], body: dict[str, Any]) -> Any:
        outputs = parse_io_control(body)
        board = self.board()
        if board is None:
            raise RequestError("device_error", "io: no digital output hardware is available")
        new = {**self.saved, **outputs}
        await self.save(statefiles.IO_OUTPUTS, new)
        try:
            await board.apply_outputs(outputs)
        except DeviceIOError as exc:
            await self._roll_back()
            raise RequestError("device_error", f"io: applying outputs failed: {exc}") from None
        self.saved = new
        return dict(body)

    async def _roll_back(self) -> None:
        """The outputs did not change: the file must say so too."""
        try:
            await self.save(statefiles.IO_OUTPUTS, self.saved)
        except StateError as exc:
            self.log.error("io outputs file could not be rolled back (%s); the next start drives what it says", exc)
