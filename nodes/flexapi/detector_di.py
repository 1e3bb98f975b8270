"""``flexapi di detector``: DI_CHG, one event per digital input transition."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from flowengine.message import Msg
from flowengine.node import NodeConfig
from nodes.flexapi.detector_base import DetectorNode, on_off
from nodes.flexapi.messages import values_of

DI_KEY = re.compile(r"io\.DI[1-6]")


class DiDetectorConfig(NodeConfig):
    inputs: list[str] = Field(
        default_factory=lambda: [f"io.DI{n}" for n in range(1, 7)],
        description="the digital inputs watched (io.DI1 .. io.DI6)",
    )

    @field_validator("inputs")
    @classmethod
    def _inputs(cls, inputs: list[str]) -> list[str]:
        for key in inputs:
            if not DI_KEY.fullmatch(key):
                raise ValueError(f"{key!r} is not a digital input (io.DI1 .. io.DI6)")
        return inputs


class DiDetectorNode(DetectorNode[DiDetectorConfig]):
    """Raises DI_CHG (fields ``key``, ``value``) each time a watched input goes from 0 to 1 or 1 to 0.

    Wire it from ``flexapi values``. The first value of an input after a start sets
    its state without an event; an invalid value keeps the last known state.
    """

    Config = DiDetectorConfig
    event_names = ("DI_CHG",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.states: dict[str, int] = {}

    def on_input(self, msg: Msg) -> None:
        values = values_of(msg)
        if not values or not self.enabled:
            return
        for key in self.config.inputs:
            if key in values:
                self._changed(key, values[key])

    def _changed(self, key: str, value: Any) -> None:
        state = on_off(value)
        if state is None:
            return
        before, self.states[key] = self.states.get(key), state
        if before is not None and before != state:
            self.raise_event("DI_CHG", "DI_CHG", key=key, value=state)

    def describe(self) -> str:
        return f"watching {len(self.config.inputs)} input(s)"
