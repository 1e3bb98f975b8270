"""The hardware sources as a flowengine package: the ``[sources]`` config section and ``--driver-log``."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Mapping
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

    def add_run_options(self, run: argparse.ArgumentParser) -> None:
        run.add_argument(
            "--driver-log",
            choices=["debug", "info", "warning", "error"],
            help="log level of the hardware libraries (python-can, ISO-TP frames); default warning, "
            "whatever --log-level says",
        )

    def run_overrides(self, args: argparse.Namespace) -> Mapping[str, Any]:
        return {f"{SECTION}.{DRIVERS}.log_level": getattr(args, "driver_log", None)}

    def started(self, runtime: Runtime, device: DeviceConfig) -> None:
        """Warn about unused ``[sources.X]`` tables; arm the one line about sources without hardware."""
        used = {getattr(node, "section_name", None) for node in runtime.nodes.values()} | SHARED_SUBSECTIONS
        configured = device.section(SECTION, SourcesSection).root
        for name in sorted(set(configured) - used):
            log.warning("device config section [sources.%s] is not used by any running source node", name)
        survey = runtime.services.shared(HardwareSurvey, HardwareSurvey)
        survey.expect(i for i, node in runtime.nodes.items() if _hardware_source(node))
        asyncio.get_running_loop().call_later(SURVEY_DEADLINE_S, survey.flush)


def _hardware_source(node: Any) -> bool:
    from nodes.sources.base import SourceNode

    return isinstance(node, SourceNode) and not node.simulated
