"""``1-wire source``: temperature sensors and ROM-code devices on the Linux w1 bus.

Hardware settings (device config ``[sources.1-wire]``): ``devices_dir`` (the w1
sysfs tree), ``names`` (custom names by reference-style id or sysfs name, also
fixing the order of sensors), ``rom_families`` (family codes reported as ROM
codes). Simulated: :class:`~nodes.sources.onewire.sim_bus.SimW1Bus` in a temp dir.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from nodes.sources.base import SourceNode
from nodes.sources.onewire.bus import MAX_DEVICES, BusReading, bus_values, read_bus

if TYPE_CHECKING:
    from nodes.sources.onewire.sim_bus import SimW1Bus

Family = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{2}$", to_lower=True)]


class OneWireSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    devices_dir: Path = Path("/sys/bus/w1/devices")
    names: dict[str, Annotated[str, StringConstraints(max_length=64)]] = Field(default_factory=dict)
    rom_families: list[Family] = Field(default=["01"], description="DS1990A iButtons by default")


def _params() -> tuple[str, ...]:
    per_slot = [(f"temp{n}_data", f"temp{n}_id", f"temp{n}_name", f"rom_code{n}") for n in range(1, MAX_DEVICES + 1)]
    return ("status", "type", "temp_num", "rom_num", *(p for slot in per_slot for p in slot))


class OneWireSource(SourceNode):
    prefixes = ("1-wire",)
    keys = tuple(f"1-wire.{p}" for p in _params())
    Settings = OneWireSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sim_dir: Path | None = None
        self.sim_bus: SimW1Bus | None = None
        self._problems: dict[str, str | None] = {}

    async def on_start(self) -> None:
        await super().on_start()
        self.devices: Path = self.hw.devices_dir
        self.names: dict[str, str] = dict(self.hw.names)

    async def on_close(self) -> None:
        await super().on_close()
        if self.sim_dir is not None:
            shutil.rmtree(self.sim_dir, ignore_errors=True)

    async def run_backend(self) -> None:
        families = frozenset(self.hw.rom_families)
        if self.simulated and self.sim_bus is None:
            await self._simulate()
        while True:
            reading = await self.device.call(self._read, families)
            self._log_sensor_problems(reading)
            self.publish(bus_values(reading, self.names))
            await self.clock.sleep(self.config.interval)  # type: ignore[attr-defined]

    async def _simulate(self) -> None:
        """The simulated bus in a temp dir (the simulator is imported only here)."""
        vehicle = await self.simulator("nodes.sources.onewire.sim_bus")
        from nodes.sources.onewire.sim_bus import DEFAULT_NAMES, SimW1Bus

        self.sim_dir = Path(tempfile.mkdtemp(prefix="flowengine-w1-"))
        bus = SimW1Bus(self.sim_dir, vehicle.state)
        self.sim_bus = await self.device.call(bus.build)
        self.devices = bus.devices
        self.names = self.names or dict(DEFAULT_NAMES)

    def _read(self, families: frozenset[str]) -> BusReading:
        if self.sim_bus is not None:
            self.sim_bus.update()
        return read_bus(self.devices, families)

    def _log_sensor_problems(self, reading: BusReading) -> None:
        """One log line per sensor state change (failing, recovered, gone), not one per reading."""
        now = {s.name: s.error for s in reading.sensors}
        for name in sorted(set(now) | set(self._problems)):
            before, after = self._problems.get(name, "absent"), now.get(name, "absent")
            if before == after:
                continue
            if after == "absent":
                self.log.warning("sensor %s is gone", name)
            elif after is None:
                self.log.info("sensor %s %s", name, "found" if before == "absent" else "reads again")
            else:
                self.log.warning("sensor %s: %s", name, after)
        self._problems = now
