"""The FlexAPI config file (the reference's Import / Export / Restore default configuration).

The file is a list of sections, each handled by one :class:`ConfigSection`: how it
is exported from the state dir, which state files a value of it (or its absence:
defaults) becomes, and which node types read those files (a running agent
restarts them when the files change). Another part of the agent adds a section
by appending a handler to :data:`SECTIONS`.

Import and restore-defaults are atomic: every state file of every section is
staged, then switched in with one rename of the staging directory
(:func:`flowengine.state.write_files_atomically`); a crash leaves the old
configuration or the new one, never a mix. IO outputs and app state are device
state, not configuration, and are left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowengine.errors import FlowConfigError, Problem
from flowengine.state import encode_json, finish_transactions, write_files_atomically
from nodes.flexapi import statefiles
from nodes.flexapi.customdefs import parse_stored_groups
from nodes.flexapi.envelope import RequestError, invalid
from nodes.flexapi.event_config import EVENTS
from nodes.flexapi.forward_config import FORWARD
from nodes.flexapi.groups import GROUPS
from nodes.flexapi.statesection import StateSection

FORMAT = "flowengine-flexapi-config"
VERSION = 1
TIMED_RESERVED = [g for g in GROUPS.values() if g.timed and g.name != "userdata"]
#: State files a section writes: relative name -> JSON value, or None to remove it (defaults).
StateFiles = dict[str, Any]


@dataclass(frozen=True)
class ConfigSection:
    """One section of the config file."""

    name: str
    #: The section's current value, from the state dir.
    export: Callable[[Path | None], Any]
    #: The state files for a value from a config file (None: the section is absent, defaults);
    #: raises RequestError naming the problem.
    files: Callable[[Any], StateFiles]
    #: Node types that read these state files (restarted by a live import).
    readers: tuple[str, ...]


def _export_groups(state_dir: Path | None) -> dict[str, Any]:
    return {g.name: statefiles.load_group_settings(state_dir, g).to_json() for g in TIMED_RESERVED}


def _group_files(value: Any) -> StateFiles:
    if value is None:
        return {statefiles.group_file(g.name): None for g in TIMED_RESERVED}
    if not isinstance(value, dict):
        raise invalid("groups: must be an object")
    known = {g.name: g for g in TIMED_RESERVED}
    for name in value:
        if name not in known:
            raise invalid(f"groups.{name}: not a reserved group with settings")
    return {
        statefiles.group_file(n): statefiles.parse_group_settings(value.get(n, {}), g).to_json()
        for n, g in known.items()
    }


def _export_custom_groups(state_dir: Path | None) -> list[dict[str, Any]]:
    return statefiles.custom_groups_json(statefiles.load_custom_groups(state_dir))


def _custom_group_files(value: Any) -> StateFiles:
    if value is None:
        return {statefiles.CUSTOM_GROUPS: None}
    return {statefiles.CUSTOM_GROUPS: statefiles.custom_groups_json(parse_stored_groups(value))}


def _export_userdata(state_dir: Path | None) -> dict[str, Any]:
    return statefiles.userdata_json(*statefiles.load_userdata(state_dir, GROUPS["userdata"]))


def _userdata_files(value: Any) -> StateFiles:
    if value is None:
        return {statefiles.USERDATA: None}
    return {statefiles.USERDATA: statefiles.userdata_json(*statefiles.parse_userdata(value, GROUPS["userdata"]))}


def _own_file(section: StateSection[Any], readers: tuple[str, ...]) -> ConfigSection:
    """A section kept in a state file of its own (see statesection)."""

    def files(value: Any) -> StateFiles:
        return {section.file: None if value is None else section.to_json(section.parse(value))}

    return ConfigSection(section.name, section.export, files, readers)


DETECTORS = ("di", "ignition", "overspeed", "idle", "motion", "dtc")

SECTIONS: list[ConfigSection] = [
    ConfigSection("groups", _export_groups, _group_files, ("flexapi group",)),
    ConfigSection("custom_groups", _export_custom_groups, _custom_group_files, ("flexapi custom groups",)),
    ConfigSection("userdata", _export_userdata, _userdata_files, ("flexapi userdata",)),
    _own_file(EVENTS, tuple(f"flexapi {kind} detector" for kind in DETECTORS)),
    _own_file(FORWARD, ("flexapi forward",)),
]


def reader_types() -> set[str]:
    """Every node type that reads the configuration's state files."""
    return {t for section in SECTIONS for t in section.readers}


def export_config(state_dir: Path) -> dict[str, Any]:
    """The current configuration as one JSON-ready object."""
    finish_transactions(statefiles.flexapi_dir(state_dir))
    return {"format": FORMAT, "version": VERSION, **{s.name: s.export(state_dir) for s in SECTIONS}}


def plan_import(data: Any) -> StateFiles:
    """The state files a configuration becomes: validated completely; raises FlowConfigError."""
    try:
        return _import_files(data)
    except RequestError as exc:
        raise FlowConfigError([Problem("<flexapi config>", None, None, exc.desc)]) from None


def _import_files(data: Any) -> StateFiles:
    if not isinstance(data, dict):
        raise invalid("the configuration must be a JSON object")
    if data.get("format") != FORMAT or data.get("version") != VERSION:
        raise invalid(f"format/version: expected {FORMAT!r} version {VERSION}")
    unknown = set(data) - {"format", "version", *(s.name for s in SECTIONS)}
    if unknown:
        raise invalid(f"{sorted(unknown)[0]}: unknown section")
    files: StateFiles = {}
    for section in SECTIONS:
        files.update(section.files(data.get(section.name)))
    return files


def plan_defaults() -> StateFiles:
    """The state files of the default configuration (every section's files removed)."""
    files: StateFiles = {}
    for section in SECTIONS:
        files.update(section.files(None))
    return files


def apply(state_dir: Path, files: Mapping[str, Any], progress: Callable[[int, int], None] | None = None) -> None:
    """Write (or remove) the configuration's state files all at once; raises StateError."""
    encoded = {name: None if value is None else encode_json(value) for name, value in files.items()}
    write_files_atomically(statefiles.flexapi_dir(state_dir), encoded, progress)


def import_config(state_dir: Path, data: Any) -> None:
    """Replace the configuration with ``data``: validated completely first, then switched in atomically."""
    apply(state_dir, plan_import(data))


def restore_defaults(state_dir: Path) -> None:
    """Every group back to its default interval and interest; custom groups and user data removed."""
    apply(state_dir, plan_defaults())
