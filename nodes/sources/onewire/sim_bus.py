"""A simulated w1 bus: a fake ``/sys/bus/w1/devices`` tree the real reader parses.

Two DS18B20 sensors (cabin and outside air, from the shared vehicle model) and
one DS1990A ROM-code key, with the ids used in the reference's examples. Each
:meth:`update` writes fresh ``w1_slave`` files with valid scratchpads and CRCs;
tests inject faults with :meth:`corrupt`, :meth:`remove` and :meth:`restore`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from nodes.sources.onewire.codec import format_w1_slave, scratchpad
from nodes.sources.sim.vehicle import VehicleState

CABIN, OUTSIDE, KEY = "28-012029901e79", "28-012029cf6a83", "01-00001b559ae0"
#: Names the simulation uses when the config gives none (as in the reference's example).
DEFAULT_NAMES = {"aa012029901e7928": "Inside", "27012029cf6a8328": "Outside"}


def cabin_celsius(state: VehicleState) -> float:
    """The cabin warms (or cools) towards 21 °C as the engine warms up, and back to ambient after."""
    warm = max(0.0, min(1.0, (state.coolant_c - state.ambient_c) / 60.0))
    return state.ambient_c + (21.0 - state.ambient_c) * warm


class SimW1Bus:
    def __init__(self, root: Path, state: Callable[[], VehicleState]) -> None:
        self.devices = root / "devices"
        self.state = state
        self.corrupted: set[str] = set()

    def build(self) -> SimW1Bus:
        (self.devices / "w1_bus_master1").mkdir(parents=True, exist_ok=True)
        for name in (CABIN, OUTSIDE, KEY):
            self.restore(name)
        return self

    def update(self) -> None:
        state = self.state()
        for name, celsius in ((CABIN, cabin_celsius(state)), (OUTSIDE, state.ambient_c)):
            if (self.devices / name).is_dir():
                self._write(name, celsius)

    def _write(self, name: str, celsius: float) -> None:
        pad = scratchpad(celsius)
        if name in self.corrupted:  # one bit flipped on the wire: the kernel's CRC check says NO
            pad = bytes([pad[0] ^ 0x04]) + pad[1:]
        target = self.devices / name / "w1_slave"
        temp = target.with_suffix(".tmp")
        temp.write_text(format_w1_slave(pad))
        os.replace(temp, target)

    def corrupt(self, name: str, on: bool = True) -> None:
        (self.corrupted.add if on else self.corrupted.discard)(name)

    def remove(self, name: str | None = None) -> None:
        """A device (or, without a name, the whole bus) disappears."""
        shutil.rmtree(self.devices / name if name else self.devices, ignore_errors=True)

    def restore(self, name: str) -> None:
        (self.devices / "w1_bus_master1").mkdir(parents=True, exist_ok=True)
        (self.devices / name).mkdir(exist_ok=True)
        (self.devices / name / "name").write_text(name + "\n")
        if not name.startswith("01-"):
            self._write(name, self.state().ambient_c)
