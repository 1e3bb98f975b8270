"""Where the agent keeps its durable state (``<state_dir>/flexapi``) and how it reads it back.

Every file is written atomically with fsync (flowengine.state). A file whose
content does not validate is logged loudly and replaced by defaults, never
half-used.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from flowengine.state import read_json, write_json
from nodes.flexapi.control import WIFI_KEYS
from nodes.flexapi.customdefs import Groups, describe, parse_stored_groups
from nodes.flexapi.envelope import RequestError, invalid
from nodes.flexapi.groups import GroupDef
from nodes.flexapi.params import ALL_PARAMS
from nodes.flexapi.report_rule import SMART_GROUPS, parse_report
from nodes.flexapi.settings import Settings, check_interest, check_interval
from nodes.flexapi.userdata_ops import parse_stored_values

log = logging.getLogger("flowengine.flexapi.state")

CUSTOM_GROUPS = "custom_groups.json"
USERDATA = "userdata.json"
IO_OUTPUTS = "io_outputs.json"
APP = "app.json"


def flexapi_dir(state_dir: Path) -> Path:
    return state_dir / "flexapi"


def group_file(name: str) -> str:
    return f"groups/{name}.json"


def load(state_dir: Path | None, name: str, default: Any) -> Any:
    return default if state_dir is None else read_json(flexapi_dir(state_dir) / name, default)


def save(state_dir: Path | None, name: str, value: Any) -> None:
    """Write one state file durably (no-op without a state dir: unit tests)."""
    if state_dir is not None:
        write_json(flexapi_dir(state_dir) / name, value)


def remove(state_dir: Path, name: str) -> None:
    (flexapi_dir(state_dir) / name).unlink(missing_ok=True)


def parse_group_settings(data: Any, group: GroupDef) -> Settings:
    """Reserved group settings from a state or config file; raises on any problem.

    Interest keys of any revision are accepted: state outlives a change of revision.
    """
    if not isinstance(data, dict):
        raise invalid(f"{group.name}: must be an object")
    interval = check_interval(data.get("interval", group.interval), f"{group.name}.interval")
    interest = data.get("interest")
    if interest is not None:
        interest = check_interest(interest, group.key_check(ALL_PARAMS), group.name, f"{group.name}.interest")
    if "report" in data and group.name not in SMART_GROUPS:
        raise invalid(f"{group.name}.report: smart reporting is for summary and custom groups")
    return Settings(interval, interest, parse_report(data.get("report"), f"{group.name}.report"))


def default_settings(group: GroupDef) -> Settings:
    return Settings(group.interval or 0, None)


def load_group_settings(state_dir: Path | None, group: GroupDef) -> Settings:
    data = load(state_dir, group_file(group.name), None)
    return _checked(data, lambda d: parse_group_settings(d, group), default_settings(group), group.name)


def load_custom_groups(state_dir: Path | None) -> Groups:
    data = load(state_dir, CUSTOM_GROUPS, None)
    return _checked(data, parse_stored_groups, {}, CUSTOM_GROUPS)


def custom_groups_json(groups: Groups) -> list[dict[str, Any]]:
    return [describe(n, s) for n, s in groups.items()]


def parse_userdata(data: Any, group: GroupDef) -> tuple[dict[str, Any], Settings]:
    if not isinstance(data, dict):
        raise invalid("userdata: must be an object")
    return parse_stored_values(data.get("values", {})), parse_group_settings(data, group)


def load_userdata(state_dir: Path | None, group: GroupDef) -> tuple[dict[str, Any], Settings]:
    data = load(state_dir, USERDATA, None)
    return _checked(data, lambda d: parse_userdata(d, group), ({}, default_settings(group)), USERDATA)


def userdata_json(values: dict[str, Any], settings: Settings) -> dict[str, Any]:
    return {"values": values, **settings.to_json()}


def load_io_outputs(state_dir: Path | None, keys: tuple[str, ...]) -> dict[str, int]:
    """The last accepted digital outputs; entries that are not ``key: 0|1`` are dropped (logged)."""
    data = load(state_dir, IO_OUTPUTS, {})
    return _entries(data, IO_OUTPUTS, lambda k, v: k in keys and type(v) is int and v in (0, 1))


def load_app(state_dir: Path | None) -> dict[str, Any]:
    """Stored app values: ``app.*`` keys with a string or finite number; anything else is dropped (logged)."""
    data = load(state_dir, APP, {})
    return _entries(data, APP, lambda k, v: k.startswith("app.") and _app_value(k, v))


def _app_value(key: str, value: Any) -> bool:
    if key in WIFI_KEYS:
        return type(value) is int and value in (-1, 0, 1)
    return _plain_scalar(value)


def _plain_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, (str, int))


def _entries(data: Any, what: str, keep: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        log.error("STATE FILE INVALID: %s: must be an object; using defaults", what)
        return {}
    kept = {k: v for k, v in data.items() if keep(k, v)}
    if len(kept) != len(data):
        log.error("STATE FILE INVALID: %s: dropped %s", what, ", ".join(sorted(set(data) - set(kept))))
    return kept


def _checked(data: Any, parse: Any, default: Any, what: str) -> Any:
    if data is None:
        return default
    try:
        return parse(data)
    except RequestError as exc:
        log.error("STATE FILE INVALID: %s: %s; using defaults", what, exc.desc)
        return default
