"""``flexapi io control``: ``io/control`` — set digital outputs through the io source, durably.

Outputs change only when a request is accepted: the hardware is driven first
(``device_error`` if it fails, nothing saved), then the new state is written,
then the response goes out. At start the saved outputs are applied again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from flowengine.errors import DeviceIOError
from flowengine.node import NodeConfig
from nodes.flexapi import statefiles
from nodes.flexapi.control import OUTPUT_KEYS, parse_io_control
from nodes.flexapi.envelope import RequestError
from nodes.flexapi.handler import FlexApiNode

SERVICE = "io.outputs"
RESTORE_WAIT = 30.0


class IoControlNode(FlexApiNode):
    """Answers io/control; keeps the last accepted outputs in ``io_outputs.json``."""

    Config = NodeConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.saved: dict[str, int] = statefiles.load_io_outputs(self.state_dir, OUTPUT_KEYS)
        self.claim("io", "control")

    async def on_start(self) -> None:
        if self.saved:
            self.values.update(self.saved)
            self.create_task(self._restore(), "restore")

    async def _restore(self) -> None:
        """Drive the saved outputs once the io source's outputs service works (it may still be opening)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RESTORE_WAIT
        problem = f"no {SERVICE} service"
        while loop.time() < deadline:
            service = self.runtime.services.get(SERVICE)
            if service is not None:
                try:
                    await service.apply_outputs(dict(self.saved))
                    self.log.info("restored outputs %s", self.saved)
                    return
                except DeviceIOError as exc:
                    problem = str(exc)
            await asyncio.sleep(0.2)
        self.error(f"saved outputs not restored after {RESTORE_WAIT:.0f}s: {problem}")

    async def handle(self, request: dict[str, Any], body: dict[str, Any]) -> Any:
        outputs = parse_io_control(body)
        service = self.runtime.services.get(SERVICE)
        if service is None:
            raise RequestError("device_error", "io: no digital output hardware is available")
        try:
            await service.apply_outputs(outputs)
        except DeviceIOError as exc:
            raise RequestError("device_error", f"io: applying outputs failed: {exc}") from None
        new = {**self.saved, **outputs}
        await self.save(statefiles.IO_OUTPUTS, new)
        self.saved = new
        self.values.update(outputs)
        return dict(body)
