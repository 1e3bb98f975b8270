"""``io source``: digital inputs/outputs and analog inputs of the device (Appendix A.3).

Pin map in the device config ``[sources.io]`` (see :mod:`nodes.sources.io.settings`).
Its ``async apply_outputs(values)`` drives ``io.DO{n}`` / ``io.DO{n}_pullup`` for the
node that refers to it (``flexapi io control``), raises
:class:`~flowengine.errors.DeviceIOError` when the hardware fails or is absent, and
publishes fresh values. ``io.power_input`` is the supply voltage on the ADC channel
``power_channel``; ``io.igt_status`` the level of the ignition input ``igt_input``.
Simulated: gpiozero's MockFactory with a mock MCP3xxx; the ignition input follows the
vehicle's ignition, AI1 and the supply its battery voltage.
"""

from __future__ import annotations

import asyncio
from typing import Any

from flowengine.errors import DeviceIOError
from nodes.sources.base import SourceNode, in_thread
from nodes.sources.io.board import IoBoard, OutputKey, load_pin_factory, output_changes
from nodes.sources.io.settings import MAX_AI, MAX_DI, MAX_DO, IoSettings
from nodes.sources.io.sim_board import SimIoHardware
from nodes.sources.sim.vehicle import Vehicle, shared_vehicle

PARAMS = (
    *(p for n in range(1, MAX_DI + 1) for p in (f"DI{n}", f"DI{n}_pullup")),
    *(p for n in range(1, MAX_DO + 1) for p in (f"DO{n}", f"DO{n}_pullup")),
    *(f"AI{n}" for n in range(1, MAX_AI + 1)),
    "power_input",
    "igt_status",
)


class IoSource(SourceNode):
    prefixes = ("io",)
    keys = tuple(f"io.{p}" for p in PARAMS)
    Settings = IoSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commanded: dict[OutputKey, int] = {}
        self.board: IoBoard | None = None
        self.factory: Any = None
        self.sim: SimIoHardware | None = None
        self.vehicle: Vehicle | None = None

    async def on_start(self) -> None:
        await super().on_start()
        for n, out in enumerate(self.hw.do, 1):
            self.commanded[(n, "value")], self.commanded[(n, "pullup")] = out.initial, out.initial_pullup
        if self.simulated:
            self.sim = SimIoHardware(self.hw)
            self.factory = self.sim.factory
            self.vehicle = shared_vehicle(self.runtime)

    async def run_backend(self) -> None:
        if self.factory is None:
            self.factory = await in_thread(load_pin_factory, self.hw.pin_factory)
        board = await in_thread(IoBoard, self.hw, self.factory, dict(self.commanded))
        self.board = board
        try:
            while True:
                self.publish(await in_thread(self._read, board))
                await asyncio.sleep(self.config.interval)  # type: ignore[attr-defined]
        finally:
            self.board = None
            board.close()

    def _read(self, board: IoBoard) -> dict[str, Any]:
        if self.sim is not None and self.vehicle is not None:
            self.sim.update(self.vehicle.state())
        return board.read()

    async def apply_outputs(self, values: dict[str, int]) -> None:
        """Drive the given outputs (only those keys change), then publish fresh values.

        Raises ValueError for keys that are not outputs, DeviceIOError when the
        board is absent or fails.
        """
        changes = output_changes(values)
        board = self.board
        if board is None:
            raise DeviceIOError("io outputs unavailable: the IO board is not open")
        await in_thread(board.apply, changes)
        self.commanded.update(changes)
        self.publish(await in_thread(self._read, board))
