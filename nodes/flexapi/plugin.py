"""The FlexAPI agent as a flowengine package: its config section, default flow, state and commands."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flowengine.config import DeviceConfig
from flowengine.errors import FlowConfigError
from flowengine.plugins import NodeObjects, Plugin
from flowengine.runtime import Runtime
from nodes.flexapi.device_settings import SECTION, FlexApiSettings

log = logging.getLogger("flowengine.flexapi")


class FlexApiPlugin(Plugin):
    name = "flexapi"
    sections = {SECTION: FlexApiSettings}

    def default_flows(self) -> list[Path]:
        from flows import default_flow

        return [default_flow()]

    def flow_env(self, device: DeviceConfig) -> Mapping[str, str]:
        from nodes.flexapi.topics import topic_root

        return {"FLOWENGINE_TOPIC_ROOT": topic_root(device.mqtt.client_id, device.mqtt.topic_prefix)}

    def generated_nodes(self, state_dir: Path) -> Mapping[str, NodeObjects]:
        from nodes.flexapi import custom_groups

        return {custom_groups.GENERATOR: custom_groups.generated_nodes(state_dir)}

    def add_commands(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        from nodes.flexapi.client.commands import add_commands as add_client_commands
        from nodes.flexapi.config_cli import add_config_command

        add_config_command(commands)
        add_client_commands(commands)

    def add_run_options(self, run: argparse.ArgumentParser) -> None:
        run.add_argument(
            "--include-invalid",
            action="store_true",
            default=None,
            help="send invalid values as null instead of leaving them out (FlexAPI's Include Invalid Data)",
        )
        run.add_argument(
            "--api-revision",
            choices=["1.0.8", "1.0.9"],
            help="FlexAPI revision the platform speaks (default 1.0.8; 1.0.9 adds ul_ts, precise error codes, "
            "new parameters)",
        )

    def run_overrides(self, args: argparse.Namespace) -> Mapping[str, Any]:
        return {f"{SECTION}.include_invalid": args.include_invalid, f"{SECTION}.revision": args.api_revision}

    def started(self, runtime: Runtime, device: DeviceConfig) -> None:
        """One line: the revision, the topic root and every group with its interval."""
        from nodes.flexapi.custom_group_node import CustomGroupNode
        from nodes.flexapi.group_node import GroupBase
        from nodes.flexapi.topics import topic_root

        groups = [
            f"{node.group.name} {node.settings.interval}s" if node.group.timed else node.group.name
            for node in runtime.nodes.values()
            if isinstance(node, GroupBase)
        ] + [
            f"{node.config.group_name} {node.config.interval}s (custom)"
            for node in runtime.nodes.values()
            if isinstance(node, CustomGroupNode)
        ]
        root = topic_root(device.mqtt.client_id, device.mqtt.topic_prefix)
        revision = device.section(SECTION, FlexApiSettings).revision
        log.info("FlexAPI %s agent on %s/..., groups: %s", revision, root, ", ".join(groups) or "none")

    async def control(self, runtime: Runtime, request: Mapping[str, Any]) -> Mapping[str, Any]:
        """``config-changed`` (``flowengine config import`` / ``restore-defaults``): restart the nodes that
        read the configuration's state files and regenerate the custom groups, all or nothing."""
        if request.get("action") != "config-changed":
            return {"ok": False, "error": f"unknown action {request.get('action')!r}"}
        from nodes.flexapi import configfile, custom_groups

        readers = configfile.reader_types()
        ids = sorted(node.id for node in runtime.nodes.values() if node.type_name in readers)
        try:
            await runtime.restart(ids)
            if runtime.state_dir is not None and ids:
                await runtime.update_generated(
                    custom_groups.GENERATOR, custom_groups.generated_nodes(runtime.state_dir)
                )
        except FlowConfigError as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True, "restarted": ids}
