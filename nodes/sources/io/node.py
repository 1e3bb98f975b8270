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

from typing import TYPE_CHECKING, Any

from flowengine.errors import DeviceIOError
from nodes.sources.base import SourceNode
from nodes.sources.io.settings import MAX_AI, MAX_DI, MAX_DO, IoSettings

if TYPE_CHECKING:
    from nodes.sources.io.board import IoBoard, OutputKey
    from nodes.sources.io.sim_board import SimIoHardware
    from nodes.sources.sim.vehicle import Vehicle

#: Seconds an output command waits for a board that is still opening (after that: device_error).
OPEN_WAIT_S = 10.0

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

    async def run_backend(self) -> None:
        if self.simulated and self.sim is None:
            self.vehicle = await self.simulator("nodes.sources.io.sim_board")
            self.sim = await self.device.call(_simulated_board, self.hw)
            self.factory = self.sim.factory
        if self.factory is None:
            self.factory = await self.device.call(_pin_factory, self.hw.pin_factory)
        board = await self.device.call(_open_board, self.hw, self.factory, dict(self.commanded))
        self.board = board
        try:
            while True:
                self.publish(await self.device.call(self._read, board))
                await self.clock.sleep(self.config.interval)  # type: ignore[attr-defined]
        finally:
            self.board = None
            self.device.submit(board.close)

    def _read(self, board: IoBoard) -> dict[str, Any]:
        if self.sim is not None and self.vehicle is not None:
            self.sim.update(self.vehicle.state())
        return board.read()

    async def apply_outputs(self, values: dict[str, int]) -> None:
        """Drive the given outputs (only those keys change), then publish fresh values.

        Raises ValueError for keys that are not outputs, DeviceIOError when the
        board is absent or fails. Right after start, while the board is still opening,
        it waits for it (at most ``OPEN_WAIT_S``).
        """
        from nodes.sources.io.board import output_changes

        changes = output_changes(values)
        if self.board is None:  # still opening right after start: wait for it rather than refuse
            await self.until_settled(OPEN_WAIT_S)
        board = self.board
        if board is None:
            raise DeviceIOError("io outputs unavailable: the IO board is not open")
        await self.device.call(board.apply, changes)
        self.commanded.update(changes)
        self.publish(await self.device.call(self._read, board))


def _simulated_board(settings: IoSettings) -> SimIoHardware:
    from nodes.sources.io.sim_board import SimIoHardware

    return SimIoHardware(settings)


def _pin_factory(name: str | None) -> Any:
    from nodes.sources.io.board import load_pin_factory  # gpiozero only when the board is opened

    return load_pin_factory(name)


def _open_board(settings: IoSettings, factory: Any, outputs: dict[OutputKey, int]) -> IoBoard:
    from nodes.sources.io.board import IoBoard

    return IoBoard(settings, factory, outputs)
