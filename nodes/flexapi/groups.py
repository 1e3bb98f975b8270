"""The reserved groups: which parameters each carries, default intervals, which requests it takes."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from nodes.flexapi.params import ALL_PARAMS, PARAMS, Param, canonical, is_userdata_key

DEFAULT_INTERVAL = 10
MAX_INTERVAL = 3600
MAX_CUSTOM_GROUPS = 16
MAX_ITEMS = 256
MAX_ALIAS_BYTES = 128
CUSTOM_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


@dataclass(frozen=True)
class GroupDef:
    """A reserved group: its parameter prefixes and default upload interval (None: on demand only)."""

    name: str
    prefixes: tuple[str, ...]
    interval: int | None
    title: str

    @property
    def timed(self) -> bool:
        return self.interval is not None

    def keys(self, params: Mapping[str, Param] = PARAMS) -> list[str]:
        """Every parameter of the group in ``params`` (a revision's table) except the ``.ts`` stamps,
        source by source in table order."""
        return [k for prefix in self.prefixes for k, p in params.items() if p.prefix == prefix and not p.is_ts]

    def ts_keys(self) -> list[str]:
        return [f"{p}.ts" for p in self.prefixes if f"{p}.ts" in PARAMS]

    def owns(self, key: str, params: Mapping[str, Param] = PARAMS) -> bool:
        """True when ``key`` is a valid interest key of this group in ``params`` (decision 5)."""
        if self.name == "userdata":
            return is_userdata_key(key)
        param = params.get(canonical(key))
        return param is not None and param.prefix in self.prefixes

    def key_check(self, params: Mapping[str, Param]) -> Callable[[str], bool]:
        """:meth:`owns` for one revision's table."""
        return lambda key: self.owns(key, params)


GROUPS: dict[str, GroupDef] = {
    g.name: g
    for g in (
        GroupDef("summary", ("gnss", "obd", "io", "motion"), DEFAULT_INTERVAL, "Summary"),
        GroupDef("obd", ("obd",), DEFAULT_INTERVAL, "OBD"),
        GroupDef("gnss", ("gnss",), DEFAULT_INTERVAL, "GNSS"),
        GroupDef("motion", ("motion",), DEFAULT_INTERVAL, "Motion"),
        GroupDef("io", ("io",), DEFAULT_INTERVAL, "IO"),
        GroupDef("cellular1", ("modem1", "cellular1"), 30, "Cellular1"),
        GroupDef("userdata", ("userdata",), DEFAULT_INTERVAL, "User data"),
        GroupDef("1-wire", ("1-wire",), DEFAULT_INTERVAL, "1-Wire"),
        GroupDef("sysinfo", ("sysinfo",), None, "System info"),
        GroupDef("app", ("app",), None, "APP"),
    )
}

#: Names a custom group may not take (decision 7).
RESERVED_NAMES = frozenset(GROUPS) | {"group"}


def custom_key_ok(key: str) -> bool:
    """Custom groups may take any Appendix A parameter or ``userdata.*`` key (decision 6)."""
    return canonical(key) in PARAMS or is_userdata_key(key)


def custom_key_check(params: Mapping[str, Param]) -> Callable[[str], bool]:
    """:func:`custom_key_ok` for one revision's table."""
    return lambda key: canonical(key) in params or is_userdata_key(key)


#: What stored state may hold: keys of any revision (a device can switch revision and keep its state).
stored_key_ok = custom_key_check(ALL_PARAMS)


def custom_name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a custom group, or None (decision 7)."""
    if not isinstance(name, str):
        return "must be a string"
    if not CUSTOM_NAME.fullmatch(name):
        return "must be 1-64 letters, digits, '_', '-' or '.'"
    if name in RESERVED_NAMES:
        return f"{name!r} is a reserved group name"
    return None
