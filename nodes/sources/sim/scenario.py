"""Scenario files: a timeline of simulator settings, applied at fixed times after the start.

JSON, a list of entries ``{"at": <seconds after start>, "set": {<settings>}}``, e.g.::

    [{"at": 5, "set": {"vehicle.target_speed": 130}},
     {"at": 60, "set": {"vehicle.brake": 0.6}},
     {"at": 90, "set": {"obd.dtc": "P0301", "io.DI2": 0}}]

``at`` counts simulated seconds from the moment the simulated vehicle starts (the agent's
start). Every entry is checked when the file is loaded, before anything starts; an error
names the entry and the field (``entry 2 (at 60): vehicle.brake: must be between ...``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodes.sources.sim.commands import Command, CommandError, Wiring, parse_commands

MAX_AT_S = 366 * 86_400.0


class ScenarioError(ValueError):
    """The scenario file cannot be used; the message names the entry and field."""


@dataclass(frozen=True)
class ScenarioEntry:
    at: float
    commands: tuple[Command, ...]


def load_scenario(path: Path, wiring: Wiring | None = None) -> list[ScenarioEntry]:
    """The checked entries of ``path``, in time order (entries at the same time keep file order)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError(f"{path} is not valid JSON: {exc}") from None
    return parse_scenario(data, wiring)


def parse_scenario(data: Any, wiring: Wiring | None = None) -> list[ScenarioEntry]:
    if not isinstance(data, list):
        raise ScenarioError('must be a JSON list of {"at": seconds, "set": {...}} entries')
    entries = [_entry(n, item, wiring) for n, item in enumerate(data, 1)]
    return sorted(entries, key=lambda e: e.at)


def _entry(n: int, item: Any, wiring: Wiring | None) -> ScenarioEntry:
    where = f"entry {n}"
    if not isinstance(item, dict):
        raise ScenarioError(f'{where}: must be an object {{"at": seconds, "set": {{...}}}}')
    extra = sorted(set(item) - {"at", "set"})
    if extra:
        raise ScenarioError(f"{where}: unknown field {extra[0]!r} (an entry has at and set)")
    at = item.get("at")
    if isinstance(at, bool) or not isinstance(at, (int, float)) or not 0 <= at <= MAX_AT_S:
        raise ScenarioError(f"{where}: at: must be seconds after the start, 0..{MAX_AT_S:g}, got {at!r:.40}")
    settings = item.get("set")
    if not isinstance(settings, dict) or not settings:
        raise ScenarioError(
            f"{where} (at {at:g}): set: must be an object of one or more settings, got {settings!r:.40}"
        )
    try:
        return ScenarioEntry(float(at), tuple(parse_commands(settings, wiring)))
    except CommandError as exc:
        raise ScenarioError(f"{where} (at {at:g}): set.{exc}") from None
