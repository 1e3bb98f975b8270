"""``flexapi filter``: only the values of the keys you watch, on change or on a timer.

Wire it from ``flexapi values`` (``"wiredFrom": ["flexapi-values"]`` in your own
flow file) to react to vehicle data without editing the default flow.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import Field, field_validator

from flowengine.message import Msg, make_msg
from flowengine.node import Node, NodeConfig
from nodes.flexapi.keycheck import key_problem
from nodes.flexapi.messages import values_of


class FilterConfig(NodeConfig):
    keys: list[str] = Field(
        default_factory=lambda: ["*"],
        description='parameter keys or patterns to pass on, e.g. ["obd.rpm", "gnss.*"]',
    )
    mode: Literal["change", "interval"] = Field(
        default="change",
        description="change: send the watched keys that changed; interval: send all every `interval` s",
    )
    interval: float = Field(default=10, gt=0, le=86400, description="seconds between sends in interval mode")

    @field_validator("keys")
    @classmethod
    def _known(cls, keys: list[str]) -> list[str]:
        if not keys:
            raise ValueError("give at least one key or pattern")
        for key in keys:
            problem = None if key == "*" else key_problem(key)
            if problem:
                raise ValueError(problem)
        return keys


class FilterNode(Node[FilterConfig]):
    """Sends ``msg.payload = {key: value}`` with only the watched keys (None = invalid).

    ``change`` mode sends the watched keys whose value differs from what it last
    sent; ``interval`` mode sends every watched key it has seen, every ``interval``
    seconds.
    """

    Config = FilterConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._latest: dict[str, Any] = {}
        self._sent: dict[str, Any] = {}

    async def on_start(self) -> None:
        if self.config.mode == "interval":
            self.every(self.config.interval, self._send_all)

    def on_input(self, msg: Msg) -> None:
        values = values_of(msg)
        if values is None:
            return
        watched = {k: v for k, v in values.items() if self._watched(k)}
        self._latest.update(watched)
        if self.config.mode == "change":
            self._emit({k: v for k, v in watched.items() if k not in self._sent or self._sent[k] != v})

    def _send_all(self) -> None:
        self._emit(dict(self._latest))

    def _emit(self, values: dict[str, Any]) -> None:
        if values:
            self._sent.update(values)
            self.send(make_msg(values, topic="values"))

    def _watched(self, key: str) -> bool:
        return any(fnmatchcase(key, pattern) for pattern in self.config.keys)
