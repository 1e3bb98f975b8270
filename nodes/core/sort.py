"""``sort``: sorts the array in a message property, or the messages of a sequence."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from flowengine.message import Msg, get_path
from flowengine.node import Node, NodeConfig
from nodes.core.jsvalue import js_compare, js_num, strict_equal

JSONATA_UNSUPPORTED = "sorting by a JSONata expression needs JSONata (not yet supported)"


class SortConfig(NodeConfig):
    order: Literal["ascending", "descending"] = Field(default="ascending", description="Sort order.")
    as_num: bool = Field(default=False, description="Compare as numbers (`Number(x)`) instead of as they are.")
    target: str = Field(default="payload", description='targetType "msg": the property holding the array.')
    targetType: Literal["msg", "seq"] = Field(
        default="msg", description='"msg": sort the array in `target`; "seq": sort a message sequence (`msg.parts`).'
    )
    msgKey: str = Field(default="payload", description='targetType "msg": unused with msgKeyType "elem".')
    msgKeyType: Literal["elem"] = Field(
        default="elem", description='"elem": sort the array items themselves (JSONata keys are not supported yet).'
    )
    seqKey: str = Field(default="payload", description='targetType "seq": the property to sort messages by.')
    seqKeyType: Literal["msg"] = Field(
        default="msg", description='"msg": sort messages by `seqKey` (JSONata keys are not supported yet).'
    )

    _order = field_validator("order", mode="before")(lambda v: v or "ascending")
    _target = field_validator("target", "msgKey", "seqKey", mode="before")(lambda v: v or "payload")

    @model_validator(mode="before")
    @classmethod
    def _no_jsonata(cls, data: Any) -> Any:
        if isinstance(data, dict):
            key_type = data.get("msgKeyType") if data.get("targetType", "msg") == "msg" else data.get("seqKeyType")
            if key_type == "jsonata":
                raise ValueError(JSONATA_UNSUPPORTED)
            data = {k: v for k, v in data.items() if not (k in ("msgKeyType", "seqKeyType") and v == "jsonata")}
        return data


@dataclass
class _Sequence:
    """Messages of one sequence, waiting for the rest."""

    messages: list[Msg] = field(default_factory=list)
    count: Any = None


class SortNode(Node[SortConfig]):
    """Sorts the array in `target` (targetType "msg"), or waits for every message of a sequence
    (`msg.parts` with `id`, `index` and `count`, as split sends them) and sends them again sorted
    by `seqKey`, renumbering `parts.index` (targetType "seq"). Values compare as JavaScript does
    (strings as text, otherwise as numbers); `as_num` compares `Number(x)`. A message whose
    `target` is not an array, or that is not part of a sequence, is dropped.
    """

    Config = SortConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.held: dict[Any, _Sequence] = {}
        self.direction = 1 if self.config.order == "ascending" else -1

    def on_input(self, msg: Msg) -> None:
        if self.config.targetType == "msg":
            data = get_path(msg, self.config.target)
            if isinstance(data, list):
                data.sort(key=self._sort_key(lambda item: item))
                self.send(msg)
            return
        parts = msg.get("parts")
        if not isinstance(parts, dict) or "id" not in parts or "index" not in parts:
            return
        sequence = self.held.setdefault(_hashable(parts["id"]), _Sequence())
        sequence.messages.append(msg)
        if "count" in parts:
            sequence.count = parts["count"]
        if sequence.count == len(sequence.messages):
            del self.held[_hashable(parts["id"])]
            self._send_sorted(sequence.messages)

    def _send_sorted(self, messages: list[Msg]) -> None:
        key = self.config.seqKey
        messages.sort(key=self._sort_key(lambda m: get_path(m, key)))
        for index, msg in enumerate(messages):
            msg["parts"]["index"] = index
            self.send(msg)

    def _sort_key(self, value_of: Callable[[Any], Any]) -> Any:
        convert = (lambda x: js_num(x) if js_num(x) is not None else float("nan")) if self.config.as_num else None

        def compare(x: Any, y: Any) -> int:
            a, b = value_of(x), value_of(y)
            if convert is not None:
                a, b = convert(a), convert(b)
            if strict_equal(a, b):
                return 0
            return self.direction if js_compare(a, b, "gt") else -self.direction

        return functools.cmp_to_key(compare)

    async def on_close(self) -> None:
        self.held.clear()


def _hashable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
