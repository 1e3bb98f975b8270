"""``flexapi ignition detector``: IGON and IGOFF, from ``io.igt_status`` or the ignition input."""

from __future__ import annotations

from typing import Any

from flowengine.message import Msg
from flowengine.node import NodeConfig
from nodes.flexapi.detector_base import IGT_STATUS, DetectorNode, on_off
from nodes.flexapi.keycheck import IgnitionKey
from nodes.flexapi.messages import values_of


class IgnitionDetectorConfig(NodeConfig):
    ignition_key: IgnitionKey = "io.DI1"


class IgnitionDetectorNode(DetectorNode[IgnitionDetectorConfig]):
    """Raises IGON when the ignition turns on and IGOFF when it turns off.

    Wire it from ``flexapi values``. The ignition is ``io.igt_status`` (1.0.9, from
    the io source) whenever it has a valid value, else ``ignition_key``. The first
    state after a start sets the state without an event; an invalid value keeps the
    last known state.
    """

    Config = IgnitionDetectorConfig
    event_names = ("IGON", "IGOFF")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.igt_status: int | None = None
        self.ignition_input: int | None = None
        self.state: int | None = None

    def on_input(self, msg: Msg) -> None:
        values = values_of(msg)
        if not values or not self.enabled:
            return
        if IGT_STATUS in values:
            self.igt_status = on_off(values[IGT_STATUS])
        if self.config.ignition_key in values:
            self.ignition_input = on_off(values[self.config.ignition_key])
        self._follow(self.igt_status if self.igt_status is not None else self.ignition_input)

    def _follow(self, state: int | None) -> None:
        if state is None:
            return
        before, self.state = self.state, state
        if before is not None and before != state:
            name = "IGON" if state else "IGOFF"
            self.raise_event(name, name)

    def describe(self) -> str:
        return f"{IGT_STATUS}, else {self.config.ignition_key}"
