"""``flexapi values``: the device's latest values in your own flows."""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import Field, field_validator

from flowengine.message import make_msg
from flowengine.node import Node, NodeConfig
from nodes.flexapi.values import latest_values


class ValuesConfig(NodeConfig):
    keys: list[str] = Field(
        default_factory=lambda: ["*"],
        description='Appendix A keys or patterns to watch, e.g. ["obd.rpm", "gnss.*"]',
    )
    mode: Literal["change", "interval"] = Field(
        default="change", description="change: send when a watched value changes; interval: send all every `interval` s"
    )
    interval: float = Field(default=10, gt=0, le=86400, description="seconds between sends in interval mode")

    @field_validator("keys")
    @classmethod
    def _not_empty(cls, keys: list[str]) -> list[str]:
        if not keys or not all(isinstance(k, str) and k for k in keys):
            raise ValueError("give at least one key or pattern")
        return keys


class ValuesNode(Node[ValuesConfig]):
    """Sends the latest values of the watched keys as ``msg.payload = {key: value}`` (None = invalid).

    In ``change`` mode it sends only the keys whose value changed, as the sources
    report them; in ``interval`` mode it sends every watched key that has a value.
    Place it in your own flow files to react to vehicle data without editing the
    default flow.
    """

    Config = ValuesConfig
    accepts_input = False

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._stop: Callable[[], None] | None = None
        self._sent: dict[str, Any] = {}

    async def on_start(self) -> None:
        store = latest_values(self.runtime.services)
        if self.config.mode == "interval":
            self.every(self.config.interval, lambda: self._emit(store.values))
        else:
            self._stop = store.listen(self._changed)

    def _changed(self, fresh: dict[str, Any]) -> None:
        self._emit({k: v for k, v in fresh.items() if k not in self._sent or self._sent[k] != v})

    def _emit(self, values: dict[str, Any]) -> None:
        watched = {k: v for k, v in values.items() if self._watched(k)}
        if watched:
            self._sent.update(watched)
            self.send(make_msg(watched, topic="values"))

    def _watched(self, key: str) -> bool:
        return any(fnmatchcase(key, pattern) for pattern in self.config.keys)

    async def on_close(self) -> None:
        if self._stop:
            self._stop()
