"""Reading the Linux w1 bus from sysfs (``/sys/bus/w1/devices`` or a fake tree).

Blocking file reads (a DS18B20 conversion takes up to 750 ms): the 1-wire
source calls :func:`read_bus` from a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowengine.errors import DeviceIOError
from nodes.sources.onewire.codec import TEMPERATURE_FAMILIES, W1ReadError, parse_w1_slave, rom_id, split_name

MAX_DEVICES = 4


@dataclass
class Sensor:
    name: str  # sysfs name, e.g. 28-012029901e79
    id: str  # reference-style ROM id
    celsius: float | None  # None: this reading failed its checks
    error: str | None = None


@dataclass
class BusReading:
    masters: int = 0
    sensors: list[Sensor] = field(default_factory=list)
    roms: list[str] = field(default_factory=list)


def read_bus(devices: Path, rom_families: frozenset[str]) -> BusReading:
    """Every bus master, temperature sensor and ROM-code device; raises when the w1 tree is gone."""
    try:
        names = sorted(entry.name for entry in devices.iterdir())
    except OSError as exc:
        raise DeviceIOError(f"no 1-wire bus at {devices}: {exc.strerror or exc}") from exc
    reading = BusReading(masters=sum(name.startswith("w1_bus_master") for name in names))
    for name in names:
        parts = split_name(name)
        if parts is None:
            continue
        if parts[0] in TEMPERATURE_FAMILIES:
            sensor = _read_sensor(devices, name)
            if sensor is not None:
                reading.sensors.append(sensor)
        elif parts[0] in rom_families:
            reading.roms.append(rom_id(name))
    return reading


def _read_sensor(devices: Path, name: str) -> Sensor | None:
    """None when the sensor vanished between listing and reading."""
    try:
        text = (devices / name / "w1_slave").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:  # the kernel returns EIO when the sensor stops answering mid-read
        return Sensor(name, rom_id(name), None, f"read failed: {exc.strerror or exc}")
    try:
        return Sensor(name, rom_id(name), parse_w1_slave(text))
    except W1ReadError as exc:
        return Sensor(name, rom_id(name), None, str(exc))


def order_sensors(sensors: list[Sensor], names: dict[str, str]) -> list[Sensor]:
    """Configured sensors first, in configuration order, then the rest by id; at most four."""
    rank = {key.lower(): i for i, key in enumerate(names)}

    def key(sensor: Sensor) -> tuple[int, str]:
        return (min(rank.get(sensor.id, len(rank)), rank.get(sensor.name, len(rank))), sensor.id)

    return sorted(sensors, key=key)[:MAX_DEVICES]


def bus_values(reading: BusReading, names: dict[str, str]) -> dict[str, Any]:
    """Appendix A ``1-wire.*`` values; slots beyond the devices present are None."""
    sensors = order_sensors(reading.sensors, names)
    roms = reading.roms[:MAX_DEVICES]
    lookup = {key.lower(): value for key, value in names.items()}
    kinds = [k for k, present in (("Temperature", sensors), ("ROM Code", roms)) if present]
    values: dict[str, Any] = {
        "1-wire.status": "Connected" if reading.masters and (sensors or roms) else "Disconnected",
        "1-wire.type": " & ".join(kinds) or None,
        "1-wire.temp_num": len(sensors),
        "1-wire.rom_num": len(roms),
    }
    for n in range(1, MAX_DEVICES + 1):
        sensor = sensors[n - 1] if n <= len(sensors) else None
        values[f"1-wire.temp{n}_data"] = sensor.celsius if sensor else None
        values[f"1-wire.temp{n}_id"] = sensor.id if sensor else None
        values[f"1-wire.temp{n}_name"] = (lookup.get(sensor.id) or lookup.get(sensor.name)) if sensor else None
        values[f"1-wire.rom_code{n}"] = roms[n - 1] if n <= len(roms) else None
    return values
