"""The FlexAPI config file (the reference's Import / Export / Restore default configuration).

Holds the reserved group settings, the custom groups, the user data
(settings and values), and the sections kept in state files of their own
(``events``, ``forward``: see statesection). Used by ``flowengine config export|import|restore-defaults``;
an agent picks changes up at its next start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowengine.errors import FlowConfigError, Problem
from nodes.flexapi import statefiles
from nodes.flexapi.customdefs import parse_stored_groups
from nodes.flexapi.envelope import RequestError
from nodes.flexapi.event_config import EVENTS
from nodes.flexapi.forward_config import FORWARD
from nodes.flexapi.groups import GROUPS

FORMAT = "flowengine-flexapi-config"
VERSION = 1
TIMED_RESERVED = [g for g in GROUPS.values() if g.timed and g.name != "userdata"]
#: Sections with a state file of their own.
SECTIONS = (EVENTS, FORWARD)


def export_config(state_dir: Path) -> dict[str, Any]:
    """The current configuration as one JSON-ready object."""
    values, userdata = statefiles.load_userdata(state_dir, GROUPS["userdata"])
    return {
        "format": FORMAT,
        "version": VERSION,
        "groups": {g.name: statefiles.load_group_settings(state_dir, g).to_json() for g in TIMED_RESERVED},
        "custom_groups": statefiles.custom_groups_json(statefiles.load_custom_groups(state_dir)),
        "userdata": statefiles.userdata_json(values, userdata),
        **{section.name: section.export(state_dir) for section in SECTIONS},
    }


def import_config(state_dir: Path, data: Any) -> None:
    """Replace the configuration with ``data``: validated completely first, then written; raises FlowConfigError."""
    parsed = _parse(data)
    for name, settings in parsed["groups"].items():
        statefiles.save(state_dir, statefiles.group_file(name), settings.to_json())
    statefiles.save(state_dir, statefiles.CUSTOM_GROUPS, statefiles.custom_groups_json(parsed["custom_groups"]))
    statefiles.save(state_dir, statefiles.USERDATA, statefiles.userdata_json(*parsed["userdata"]))
    for section in SECTIONS:
        section.save(state_dir, parsed[section.name])


def restore_defaults(state_dir: Path) -> None:
    """Every group back to its default interval and interest; custom groups and user data removed."""
    for group in TIMED_RESERVED:
        statefiles.remove(state_dir, statefiles.group_file(group.name))
    statefiles.remove(state_dir, statefiles.CUSTOM_GROUPS)
    statefiles.remove(state_dir, statefiles.USERDATA)
    for section in SECTIONS:
        section.remove(state_dir)


def _parse(data: Any) -> dict[str, Any]:
    try:
        return _parse_sections(data)
    except RequestError as exc:
        raise FlowConfigError([Problem("<flexapi config>", None, None, exc.desc)]) from None


def _parse_sections(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise RequestError("invalid_parameter", "the configuration must be a JSON object")
    if data.get("format") != FORMAT or data.get("version") != VERSION:
        raise RequestError("invalid_parameter", f"format/version: expected {FORMAT!r} version {VERSION}")
    unknown = set(data) - {"format", "version", "groups", "custom_groups", "userdata", *(s.name for s in SECTIONS)}
    if unknown:
        raise RequestError("invalid_parameter", f"{sorted(unknown)[0]}: unknown section")
    groups = data.get("groups", {})
    if not isinstance(groups, dict):
        raise RequestError("invalid_parameter", "groups: must be an object")
    known = {g.name: g for g in TIMED_RESERVED}
    for name in groups:
        if name not in known:
            raise RequestError("invalid_parameter", f"groups.{name}: not a reserved group with settings")
    return {
        "groups": {n: statefiles.parse_group_settings(groups.get(n, {}), g) for n, g in known.items()},
        "custom_groups": parse_stored_groups(data.get("custom_groups", [])),
        "userdata": statefiles.parse_userdata(data.get("userdata", {}), GROUPS["userdata"]),
        **{section.name: section.parse_in_config(data) for section in SECTIONS},
    }
