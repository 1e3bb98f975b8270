"""Custom group definitions: validating ``group/set`` (create, update, remove; all-or-nothing)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from nodes.flexapi.envelope import RequestError, invalid, json_kind
from nodes.flexapi.groups import DEFAULT_INTERVAL, MAX_CUSTOM_GROUPS, custom_key_ok, custom_name_problem, stored_key_ok
from nodes.flexapi.report_rule import parse_report
from nodes.flexapi.settings import KeyCheck, Settings, check_interest, check_interval, parse_settings_change

Groups = dict[str, Settings]
_ENTRY_FIELDS = ("group_name", "interval", "interest", "report")


@contextmanager
def field_prefix(prefix: str) -> Iterator[None]:
    """Re-raise request errors with ``prefix`` in front of the field they name."""
    try:
        yield
    except RequestError as exc:
        raise RequestError(exc.condition, f"{prefix}{exc.desc}", exc.token) from None


def describe(name: str, settings: Settings) -> dict[str, Any]:
    """A custom group as ``group/get`` and ``group/set`` report it (``report`` only when it has one)."""
    return {"group_name": name, **settings.to_json()}


def parse_group_set(
    body: Mapping[str, Any], groups: Mapping[str, Settings], key_ok: KeyCheck = custom_key_ok
) -> tuple[Groups, list[dict[str, Any]]]:
    """Apply a ``group/set`` body to ``groups`` -> (new groups, result); raises on the first problem.

    ``key_ok`` says which interest keys the device's revision knows.
    """
    for field in body:
        if field != "settings":
            raise invalid(f"{field}: unknown field (expected settings)")
    entries = body.get("settings")
    if not isinstance(entries, list) or not entries:
        raise invalid(f"settings: must be a non-empty array, got {json_kind(entries)}")
    new: Groups = dict(groups)
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        with field_prefix(f"settings[{index}]."):
            name = _entry_name(entry, seen)
            result.append(_apply_entry(entry, name, new, key_ok))
    if len(new) > MAX_CUSTOM_GROUPS:
        raise RequestError(
            "over_group_num", f"settings: would make {len(new)} custom groups, the limit is {MAX_CUSTOM_GROUPS}"
        )
    return new, result


def _entry_name(entry: Any, seen: set[str]) -> str:
    if not isinstance(entry, dict):
        raise invalid(f"must be an object, got {json_kind(entry)}")
    for field in entry:
        if field not in _ENTRY_FIELDS:
            raise invalid(f"{field}: unknown field")
    if "group_name" not in entry:
        raise invalid("group_name: required")
    name = entry["group_name"]
    problem = custom_name_problem(name)
    if problem:
        raise invalid(f"group_name: {problem}")
    if name in seen:
        raise invalid(f"group_name: {name!r} appears twice in one request")
    seen.add(name)
    return str(name)


def _apply_entry(entry: dict[str, Any], name: str, groups: Groups, key_ok: KeyCheck) -> dict[str, Any]:
    if "interest" in entry and entry["interest"] is None:
        for field in ("interval", "report"):
            if field in entry:
                raise invalid(f"{field}: not allowed when removing a group (interest: null)")
        if name not in groups:
            raise RequestError("not_found", f"group_name: no custom group {name!r} to remove")
        del groups[name]
        return {"group_name": name, "interest": None}
    if name in groups:
        change = parse_settings_change(
            {k: v for k, v in entry.items() if k != "group_name"}, key_ok, name, report_ok=True
        )
        groups[name] = groups[name].applied(change)
    else:
        groups[name] = _new_group(entry, name, key_ok)
    return describe(name, groups[name])


def _new_group(entry: dict[str, Any], name: str, key_ok: KeyCheck) -> Settings:
    if "interest" not in entry:
        raise invalid(f"interest: required to create custom group {name!r}")
    interval = check_interval(entry["interval"]) if "interval" in entry else DEFAULT_INTERVAL
    interest = check_interest(entry["interest"], key_ok, f"custom group {name}")
    return Settings(interval, interest, parse_report(entry.get("report")))


def parse_stored_groups(data: Any) -> Groups:
    """Custom groups from a state or config file (a list of group/get entries); raises on any problem.

    Keys of any revision are accepted: state written under one revision stays loadable under the other.
    """
    if not isinstance(data, list):
        raise invalid(f"custom_groups: must be an array, got {json_kind(data)}")
    groups: Groups = {}
    for index, entry in enumerate(data):
        with field_prefix(f"custom_groups[{index}]."):
            name = _entry_name(entry, set(groups))
            if not isinstance(entry.get("interest"), dict):
                raise invalid("interest: must be an object")
            groups[name] = _new_group(
                {"interval": entry.get("interval", DEFAULT_INTERVAL), **entry}, name, stored_key_ok
            )
    if len(groups) > MAX_CUSTOM_GROUPS:
        raise RequestError("over_group_num", f"custom_groups: {len(groups)} groups, the limit is {MAX_CUSTOM_GROUPS}")
    return groups
