"""Checking the parameter names flows and requests use: ``obd.sped`` is a typo, not a new parameter."""

from __future__ import annotations

import difflib
from fnmatch import fnmatchcase

from nodes.flexapi.params import ALL_PARAMS, canonical, is_userdata_key


def key_problem(key: str) -> str | None:
    """Why ``key`` names no parameter (with a suggestion), or None when it is one or a pattern matching some."""
    if canonical(key) in ALL_PARAMS or is_userdata_key(key):
        return None
    if any(c in key for c in "*?[") and (key.startswith("userdata.") or any(fnmatchcase(p, key) for p in ALL_PARAMS)):
        return None
    close = difflib.get_close_matches(key, list(ALL_PARAMS), n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{key!r} is not a FlexAPI parameter or userdata.<name> key{hint}"
