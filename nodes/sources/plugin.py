"""The hardware sources as a flowengine package: the ``[sources]`` config section."""

from __future__ import annotations

import logging

from flowengine.config import DeviceConfig
from flowengine.plugins import Plugin
from flowengine.runtime import Runtime
from nodes.sources.base import SourceNode
from nodes.sources.settings import SECTION, SHARED_SUBSECTIONS, SourcesSection

log = logging.getLogger("flowengine.sources")


class SourcesPlugin(Plugin):
    name = "sources"
    sections = {SECTION: SourcesSection}

    def started(self, runtime: Runtime, device: DeviceConfig) -> None:
        """A ``[sources.X]`` no running node reads is most likely a typo: say so instead of ignoring it."""
        used = {getattr(node, "section_name", None) for node in runtime.nodes.values()} | SHARED_SUBSECTIONS
        configured = device.section(SECTION, SourcesSection).root
        for name in sorted(set(configured) - used):
            log.warning("device config section [sources.%s] is not used by any running source node", name)
        sources = [node for node in runtime.nodes.values() if isinstance(node, SourceNode)]
        if sources:
            backends = ", ".join(f"{n.source_name} ({'simulated' if n.simulated else 'hardware'})" for n in sources)
            log.info("sources: %s", backends)
