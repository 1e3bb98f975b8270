"""Where node packages plug into the runtime.

The runtime knows no node type, hardware or protocol of its own. A package adds:

- node types, in the ``flowengine.nodes`` entry-point group: ``type name = "module:Class"``,
  or ``package name = "module:TABLE"`` where ``TABLE`` maps type names to ``"module:Class"``
  (imported only when a flow uses the type);
- everything else through one :class:`Plugin` object in the ``flowengine.plugins`` group:
  device config sections, default flows, variables for flow files, nodes generated from
  its state (regenerated at start and by ``graph --state-dir``), command-line commands and
  options of ``flowengine run``, a hook once the first deploy ran, and requests its own
  commands send to the running agent (:mod:`flowengine.control`).

A third-party package uses exactly the same two groups.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import logging
from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from flowengine.errors import FlowError

if TYPE_CHECKING:
    from flowengine.config import DeviceConfig
    from flowengine.runtime import Runtime

log = logging.getLogger("flowengine.plugins")

PLUGIN_GROUP = "flowengine.plugins"
NODES_GROUP = "flowengine.nodes"

NodeObjects = list[dict[str, Any]]


class Plugin:
    """What a node package adds besides node types; every hook is optional."""

    #: Shown in messages; the entry point's name when empty.
    name: ClassVar[str] = ""
    #: Top-level device config sections the package reads: name -> pydantic model.
    sections: ClassVar[Mapping[str, type[BaseModel]]] = {}

    def default_flows(self) -> list[Path]:
        """Flow files ``flowengine run`` loads unless ``--no-default-flow``."""
        return []

    def flow_env(self, device: DeviceConfig) -> Mapping[str, str]:
        """Variables flow files may use as ``${NAME}`` and ``env`` values."""
        return {}

    def generated_nodes(self, state_dir: Path) -> Mapping[str, NodeObjects]:
        """Node objects the package keeps in its state, by generator name, to deploy with the flows."""
        return {}

    def add_commands(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Add ``flowengine`` sub-commands."""

    def add_run_options(self, run: argparse.ArgumentParser) -> None:
        """Add options to ``flowengine run`` (and read them back in :meth:`run_overrides`)."""

    def run_overrides(self, args: argparse.Namespace) -> Mapping[str, Any]:
        """Device config values the ``run`` options set, as dotted keys (None: not given)."""
        return {}

    def started(self, runtime: Runtime, device: DeviceConfig) -> None:
        """Called once the first deploy of ``flowengine run`` succeeded (warnings, summaries)."""

    async def control(self, runtime: Runtime, request: Mapping[str, Any]) -> Mapping[str, Any]:
        """Answer a control request addressed to this package (``{"package": name, "action": ...}``),
        e.g. a command telling the running agent that the package's state changed on disk.
        The reply holds ``ok`` and, when not ok, ``error``."""
        return {"ok": False, "error": f"package {self.name!r} takes no control requests"}


@functools.cache
def plugins() -> tuple[Plugin, ...]:
    """Every installed plugin, in entry-point name order (loaded once)."""
    found = []
    for entry in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        try:
            plugin = entry.load()
        except Exception as exc:
            raise FlowError(f"plugin {entry.name!r} ({entry.value}) cannot be loaded: {exc}") from exc
        plugin = plugin() if isinstance(plugin, type) else plugin
        if not isinstance(plugin, Plugin):
            raise FlowError(f"plugin {entry.name!r}: {entry.value} is not a flowengine.plugins.Plugin")
        found.append(plugin)
    return tuple(found)


@functools.cache
def config_sections() -> Mapping[str, type[BaseModel]]:
    """Every device config section the installed plugins read."""
    sections: dict[str, type[BaseModel]] = {}
    for plugin in plugins():
        sections.update(plugin.sections)
    return sections


@functools.cache
def node_type_table() -> Mapping[str, str]:
    """Every registered node type: name -> ``module:Class``."""
    return {name: target for name, (target, _) in node_packages().items()}


@functools.cache
def node_packages() -> Mapping[str, tuple[str, str]]:
    """Every registered node type: name -> (``module:Class``, the module that registered it)."""
    found: dict[str, tuple[str, str]] = {}
    for entry in entry_points(group=NODES_GROUP):
        module = entry.value.partition(":")[0]
        if entry.value.partition(":")[2].isupper():  # a package's table of types
            found.update({name: (target, module) for name, target in _load_table(entry.name, entry.value).items()})
        else:
            found.setdefault(entry.name, (entry.value, module))
    return found


def _load_table(name: str, target: str) -> Mapping[str, str]:
    module_name, _, attr = target.partition(":")
    table = getattr(importlib.import_module(module_name), attr, None)
    if not isinstance(table, Mapping):
        raise FlowError(f"node package {name!r}: {target} is not a mapping of type name to 'module:Class'")
    return table
