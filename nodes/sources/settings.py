"""The ``[sources]`` section of the device config: one table per source (``[sources.gnss]``, ...).

Each source node validates its own table with its ``Settings`` model when the
flows are checked, before any hardware opens.
"""

from __future__ import annotations

from typing import Any

from pydantic import RootModel

from flowengine.config import DeviceConfig

SECTION = "sources"
#: Tables read by shared things rather than by one source node (the simulated vehicle, the driver log level).
SHARED_SUBSECTIONS = frozenset({"vehicle", "drivers"})


class SourcesSection(RootModel[dict[str, dict[str, Any]]]):
    """``[sources.<name>]`` tables, checked by the source nodes that use them."""

    root: dict[str, dict[str, Any]] = {}


def source_settings(device: DeviceConfig | None, name: str) -> dict[str, Any]:
    """The table ``[sources.<name>]`` (``{}`` when absent: defaults apply)."""
    if device is None:
        return {}
    return dict(device.section(SECTION, SourcesSection).root.get(name, {}))
