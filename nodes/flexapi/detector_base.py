"""The base of the event detectors: their settings from the config file, raising and clearing.

A detector is an ordinary node of the default flow: it watches values (or
samples) on its input and sends event messages (event_notice) to ``flexapi
event``. Its settings are the ``events`` section of the FlexAPI config file, read
once when the node is built (a config import restarts it); a type that is not
enabled makes the node ignore its input and say so in its status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from flowengine.message import make_msg
from flowengine.node import ConfigT, Node
from nodes.flexapi.event_config import EVENTS
from nodes.flexapi.event_notice import EVENT_TOPIC
from nodes.flexapi.event_types import EventSettings

S = TypeVar("S", bound=EventSettings)
#: The 1.0.9 ignition key the io source provides.
IGT_STATUS = "io.igt_status"


def number(value: Any) -> float | None:
    """A value as a float; None when invalid (None, a boolean, not a number)."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def on_off(value: Any) -> int | None:
    """0 or 1 from a number (non-zero is on); None when invalid."""
    state = number(value)
    return None if state is None else int(state != 0)


class DetectorNode(Node[ConfigT]):
    """Sends ``{topic: "event", payload: {type, status, level, ...fields}}`` to ``flexapi event``."""

    #: The config file entries (``events.<name>``) this detector reads.
    event_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        events = EVENTS.load(self.runtime.state_dir)
        self.event_settings: dict[str, EventSettings] = {name: events[name] for name in self.names()}

    def names(self) -> tuple[str, ...]:
        """The entries this node reads (a node raising one of several types narrows it from its config)."""
        return self.event_names

    def settings_of(self, name: str, model: type[S]) -> S:
        """The settings of ``events.<name>``, typed by the model the event table gives that type."""
        settings = self.event_settings[name]
        assert isinstance(settings, model), f"events.{name} is not {model.__name__}"
        return settings

    @property
    def enabled(self) -> bool:
        return any(s.enabled for s in self.event_settings.values())

    async def on_start(self) -> None:
        if self.enabled:
            self.status("green", "dot", self.describe())
        else:
            entries = ", ".join(f"events.{n}" for n in self.names())
            self.status("grey", "ring", f"off ({entries} not enabled)")

    def describe(self) -> str:
        """What the status shows while enabled: the thresholds."""
        return "on"

    def raise_event(
        self, event_type: str, name: str, *, values: Mapping[str, Any] | None = None, **fields: Any
    ) -> None:
        """Raise ``event_type`` with the level of ``events.<name>``, if that entry is enabled.

        ``values``: parameter values the detector saw that are newer than the latest readings
        (the accelerometer sample that raised it); the snapshot takes them (``msg.values``).
        """
        self._send(event_type, name, "raise", fields, values)

    def clear_event(self, event_type: str, name: str, **fields: Any) -> None:
        self._send(event_type, name, "clear", fields)

    def _send(
        self, event_type: str, name: str, status: str, fields: dict[str, Any], values: Mapping[str, Any] | None = None
    ) -> None:
        settings = self.event_settings[name]
        if settings.enabled:
            payload = {"type": event_type, "status": status, "level": settings.level, **fields}
            msg = make_msg(payload, topic=EVENT_TOPIC)
            if values:
                msg["values"] = dict(values)
            self.send(msg)
