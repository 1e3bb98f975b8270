"""The hardware sources as a flowengine package: the ``[sources]`` config section, the simulator's command and options."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flowengine.config import DeviceConfig
from flowengine.plugins import Plugin
from flowengine.runtime import Runtime
from nodes.sources.base import SourceNode
from nodes.sources.settings import SECTION, SHARED_SUBSECTIONS, SourcesSection

log = logging.getLogger("flowengine.sources")


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

    def run_overrides(self, args: argparse.Namespace) -> Mapping[str, Any]:
        scenario = getattr(args, "scenario", None)
        return {f"{SECTION}.vehicle.scenario": str(scenario) if scenario is not None else None}

    def started(self, runtime: Runtime, device: DeviceConfig) -> None:
        """A ``[sources.X]`` no running node reads is most likely a typo: say so instead of ignoring it."""
        used = {getattr(node, "section_name", None) for node in runtime.nodes.values()} | SHARED_SUBSECTIONS
        configured = device.section(SECTION, SourcesSection).root
        for name in sorted(set(configured) - used):
            log.warning("device config section [sources.%s] is not used by any running source node", name)
        if configured.get("vehicle", {}).get("scenario") and not device.simulate:
            log.warning("a scenario is set ([sources.vehicle] scenario, --scenario) but the device is not simulated")
        sources = [node for node in runtime.nodes.values() if isinstance(node, SourceNode)]
        if sources:
            backends = ", ".join(f"{n.source_name} ({'simulated' if n.simulated else 'hardware'})" for n in sources)
            log.info("sources: %s", backends)
