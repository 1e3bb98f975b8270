"""The ``[sources]`` section of the device config: one table per source (``[sources.gnss]``, ...).

Each source node validates its own table with its ``Settings`` model when the
flows are checked, before any hardware opens. The simulated vehicle's scenario file
(``[sources.vehicle] scenario``, ``flowengine run --scenario``) is checked here, with
the rest of the device config, so a bad entry stops the agent before anything starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import RootModel, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from flowengine.config import DeviceConfig
from nodes.sources.io.settings import IoSettings

if TYPE_CHECKING:  # the simulator is imported only where one is used (a scenario, --simulate)
    from nodes.sources.sim.commands import Wiring

SECTION = "sources"
#: Tables read by shared things rather than by one source node (the simulated vehicle, the driver log level).
SHARED_SUBSECTIONS = frozenset({"vehicle", "drivers"})


class SourcesSection(RootModel[dict[str, dict[str, Any]]]):
    """``[sources.<name>]`` tables, checked by the source nodes that use them."""

    root: dict[str, dict[str, Any]] = {}

    @model_validator(mode="after")
    def _scenario(self) -> SourcesSection:
        vehicle = self.root.get("vehicle", {})
        if vehicle.get("scenario") is None:
            return self
        from nodes.sources.sim.scenario import ScenarioError, load_scenario

        wiring = wiring_of(self.root.get("io", {}), track=vehicle.get("track") is not None)
        try:
            load_scenario(Path(str(vehicle["scenario"])), wiring)
        except ScenarioError as exc:
            raise PydanticCustomError("scenario", "vehicle.scenario: {reason}", {"reason": str(exc)}) from None
        return self


def source_settings(device: DeviceConfig | None, name: str) -> dict[str, Any]:
    """The table ``[sources.<name>]`` (``{}`` when absent: defaults apply)."""
    if device is None:
        return {}
    return dict(device.section(SECTION, SourcesSection).root.get(name, {}))


def wiring_of(io_table: dict[str, Any], *, track: bool = False) -> Wiring:
    """How the simulated harness meets the IO board ``[sources.io]`` describes (defaults if it is invalid)."""
    from nodes.sources.sim.commands import Wiring

    try:
        io = IoSettings.model_validate(io_table)
    except ValidationError:
        io = IoSettings()
    return Wiring(inputs=len(io.di), ignition_input=io.igt_input, track=track)


def harness_wiring(device: DeviceConfig | None, *, track: bool = False) -> Wiring:
    return wiring_of(source_settings(device, "io"), track=track)
