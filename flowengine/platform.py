"""Clients contributed by installed node packages.

The runtime ships no platform-side client of its own. A node package that
speaks a protocol to devices may contribute one (classes, errors) under the
``flowengine.platform`` entry-point group: the entry point's name is the name
imported here, its value ``module:attribute``. ``from flowengine.platform import
NAME`` then resolves ``NAME`` on first use, like any attribute of this module::

    [project.entry-points."flowengine.platform"]
    SomeClient = "my_nodes.client:SomeClient"

``dir(flowengine.platform)`` lists what the installed packages contribute.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

ENTRY_POINT_GROUP = "flowengine.platform"


def __getattr__(name: str) -> Any:
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        value = ep.load()
        globals()[name] = value  # resolved once
        return value
    raise AttributeError(
        f"module {__name__!r} has no attribute {name!r}: no installed package contributes it "
        f"to the {ENTRY_POINT_GROUP!r} entry-point group"
    )


def __dir__() -> list[str]:
    return sorted(set(globals()) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})
