"""The hardware sources as a flowengine package: the ``[sources]`` config section, the simulator's
command and options, and ``--driver-log``."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowengine.plugins import Plugin
from nodes.sources.drivers import SECTION as DRIVERS
from nodes.sources.settings import SECTION, SHARED_SUBSECTIONS, SourcesSection
from nodes.sources.survey import HardwareSurvey

if TYPE_CHECKING:  # the plugin loads with every command: the runtime only when one runs
    from flowengine.config import DeviceConfig
    from flowengine.runtime import Runtime

log = logging.getLogger("flowengine.sources")

#: Seconds after the first deploy when the hardware line is logged even if a source is still opening.
SURVEY_DEADLINE_S = 15.0


class SourcesPlugin(Plugin):
    name = "sources"
    sections = {SECTION: SourcesSection}

    def add_commands(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        from nodes.sources.sim.cli import add_sim_command

        add_sim_command(commands)

    def add_run_options(self, run: argparse.ArgumentParser) -> None:
        run.add_argument(
            "--scenario",
            type=Path,
            metavar="FILE",
            help="with --simulate: a JSON timeline of simulator settings, "
            '[{"at": 5, "set": {"vehicle.target_speed": 130}}, ...] (docs/sources/simulation.md)',
        )
        run.add_argument(
            "--driver-log",
            choices=["debug", "info", "warning", "error"],
            help="log level of the hardware libraries (python-can, ISO-TP frames); default warning, "
            "whatever --log-level says",
        )

    def run_overrides(self, args: argparse.Namespace) -> Mapping[str, Any]:
        scenario = getattr(args, "scenario", None)
        return {
            f"{SECTION}.vehicle.scenario": str(scenario) if scenario is not None else None,
            f"{SECTION}.{DRIVERS}.log_level": getattr(args, "driver_log", None),
        }

    def started(self, runtime: Runtime, device: DeviceConfig) -> None:
        """Warn about unused ``[sources.X]`` tables; arm the one line about sources without hardware."""
        used = {getattr(node, "section_name", None) for node in runtime.nodes.values()} | SHARED_SUBSECTIONS
        configured = device.section(SECTION, SourcesSection).root
        for name in sorted(set(configured) - used):
            log.warning("device config section [sources.%s] is not used by any running source node", name)
        if configured.get("vehicle", {}).get("scenario") and not device.simulate:
            log.warning("a scenario is set ([sources.vehicle] scenario, --scenario) but the device is not simulated")
        from nodes.sources.base import SourceNode

        sources = [node for node in runtime.nodes.values() if isinstance(node, SourceNode)]
        if sources:
            backends = ", ".join(f"{n.source_name} ({'simulated' if n.simulated else 'hardware'})" for n in sources)
            log.info("sources: %s", backends)
        survey = runtime.services.shared(HardwareSurvey, HardwareSurvey)
        survey.expect(i for i, node in runtime.nodes.items() if _hardware_source(node))
        asyncio.get_running_loop().call_later(SURVEY_DEADLINE_S, survey.flush)


def _hardware_source(node: Any) -> bool:
    from nodes.sources.base import SourceNode

    return isinstance(node, SourceNode) and not node.simulated
