"""Group settings (interval + interest with aliases) and the payload views built from them.

Pure functions: validating the four ``{group}/set`` cases, merging a change,
and turning the latest values into the aliased payload a group reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from nodes.flexapi.envelope import RequestError, invalid, json_kind
from nodes.flexapi.groups import MAX_ALIAS_BYTES, MAX_INTERVAL, MAX_ITEMS
from nodes.flexapi.params import ALL_PARAMS, canonical, is_userdata_key
from nodes.flexapi.report_rule import Report, parse_report

KeyCheck = Callable[[str], bool]
SETTINGS_FIELDS = ("interval", "interest", "report")


@dataclass(frozen=True)
class Settings:
    """A group's upload interval (0: no timer), interest (None: every parameter of the group) and
    smart reporting (None: the interval applies; see report_rule)."""

    interval: int
    interest: dict[str, str] | None = None
    report: Report | None = None

    def applied(self, change: Mapping[str, Any]) -> Settings:
        """These settings with a validated change applied."""
        return replace(self, **{k: change[k] for k in SETTINGS_FIELDS if k in change})

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"interval": self.interval, "interest": self.interest}
        if self.report is not None:
            data["report"] = self.report
        return data


def check_interval(value: Any, field: str = "interval") -> int:
    """An upload interval: integer seconds 0..3600 (0 disables the timer)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError("interval_invalid", f"{field}: must be an integer, got {json_kind(value)}")
    if not 0 <= value <= MAX_INTERVAL:
        raise RequestError("interval_invalid", f"{field}: {value} is outside 0..{MAX_INTERVAL}")
    return value


def check_interest(value: Any, key_ok: KeyCheck, owner: str, field: str = "interest") -> dict[str, str]:
    """An interest object ``{key: alias}``: 1..256 keys valid for ``owner``, string aliases, no clashes."""
    if not isinstance(value, dict):
        raise invalid(f"{field}: must be an object of key: alias, got {json_kind(value)}")
    if not value:
        raise invalid(f"{field}: must hold 1..{MAX_ITEMS} keys, got 0")
    if len(value) > MAX_ITEMS:
        raise RequestError("over_data_num", f"{field}: must hold 1..{MAX_ITEMS} keys, got {len(value)}")
    reported: dict[str, str] = {}
    for key, alias in value.items():
        if not key_ok(key):
            raise invalid(f"{field}.{key}: not a parameter of {owner}")
        if not isinstance(alias, str):
            raise invalid(f"{field}.{key}: alias must be a string, got {json_kind(alias)}")
        if len(alias.encode("utf-8", "surrogatepass")) > MAX_ALIAS_BYTES:
            raise invalid(f"{field}.{key}: alias longer than {MAX_ALIAS_BYTES} bytes")
        if alias and alias != key and names_a_parameter(alias):
            raise invalid(
                f"{field}.{key}: alias {alias!r} is the name of a parameter or stamp; reports would be ambiguous"
            )
        name = alias or key
        if name in reported:
            raise invalid(f"{field}.{key}: reports as {name!r}, the same as {reported[name]!r}")
        reported[name] = key
    return dict(value)


def names_a_parameter(name: str) -> bool:
    """True for a parameter key (of any revision), a ``.ts``/``.ul_ts`` stamp or a userdata key:
    no alias may take such a name."""
    return canonical(name) in ALL_PARAMS or is_userdata_key(name) or name.endswith((".ts", ".ul_ts"))


def parse_settings_change(
    body: Mapping[str, Any], key_ok: KeyCheck, owner: str, report_ok: bool = False
) -> dict[str, Any]:
    """Validate a ``{group}/set`` body (interval and/or interest; ``report`` too when ``report_ok``) -> the change."""
    fields = SETTINGS_FIELDS if report_ok else SETTINGS_FIELDS[:2]
    for field in body:
        if field not in fields:
            raise invalid(f"{field}: unknown field (expected {', '.join(fields[:-1])} and/or {fields[-1]})")
    if not body:
        raise invalid(f"{', '.join(fields)}: at least one is required")
    change: dict[str, Any] = {}
    if "interval" in body:
        change["interval"] = check_interval(body["interval"])
    if "interest" in body:
        change["interest"] = check_interest(body["interest"], key_ok, owner)
    if "report" in body:
        change["report"] = parse_report(body["report"])
    return change


def effective_interest(interest: Mapping[str, str] | None, default_keys: Iterable[str]) -> dict[str, str]:
    """The interest a group reports: the configured one, or every parameter without alias."""
    return dict(interest) if interest is not None else dict.fromkeys(default_keys, "")


def ts_keys_for(interest: Mapping[str, str], prefixes: Iterable[str]) -> list[str]:
    """The ``<source>.ts`` stamps a reserved group adds: one per source its interest draws on (decision 5)."""
    used = {ALL_PARAMS[canonical(k)].prefix for k in interest if canonical(k) in ALL_PARAMS}
    return [f"{p}.ts" for p in prefixes if p in used and f"{p}.ts" in ALL_PARAMS and f"{p}.ts" not in interest]


def build_view(
    interest: Mapping[str, str],
    values: Mapping[str, Any],
    include_invalid: bool,
    ts_keys: Iterable[str] = (),
) -> tuple[dict[str, Any], bool]:
    """(payload, any valid value) for an interest over the latest values.

    Aliases rename keys; invalid (None or never seen) values are left out, or sent
    as null when ``include_invalid`` (decision 9). Stamps do not count as valid data.
    """
    payload: dict[str, Any] = {}
    for key in ts_keys:
        if values.get(key) is not None or include_invalid:
            payload[key] = values.get(key)
    valid = False
    for key, alias in interest.items():
        value = values.get(canonical(key))
        if value is not None or include_invalid:
            payload[alias or key] = value
        valid = valid or value is not None
    return payload, valid
