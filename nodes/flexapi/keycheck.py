"""Checking the parameter names flows and requests use: ``obd.sped`` is a typo, not a new parameter."""

from __future__ import annotations

import difflib
from fnmatch import fnmatchcase
from typing import Annotated

from pydantic import AfterValidator, Field

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


def checked_key(key: str) -> str:
    """``key`` when it names a parameter; else ValueError with the hint (a pydantic validator)."""
    problem = key_problem(key)
    if problem:
        raise ValueError(problem)
    return key


#: A node setting that names one parameter (or pattern): checked, with a suggestion on a typo.
ParamKey = Annotated[str, AfterValidator(checked_key)]
#: The ignition input of nodes that follow the ignition, used while ``io.igt_status`` is unknown.
IgnitionKey = Annotated[
    ParamKey,
    Field(description="the ignition input, used while no io.igt_status value is known (the simulated board: io.DI1)"),
]
#: The speed a node watches.
SpeedKey = Annotated[ParamKey, Field(description="the speed watched, km/h (gnss.speed or obd.speed)")]
