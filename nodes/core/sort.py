"""``sort``: sorts the array in a message property, or the messages of a sequence."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from flowengine.errors import ExpressionError
from flowengine.message import Msg, get_path
from flowengine.node import Node, NodeConfig
from nodes.core import usercode
from nodes.core.jsonata import compile_jsonata
from nodes.core.jsvalue import js_compare, js_num, strict_equal


class SortConfig(NodeConfig):
    order: Literal["ascending", "descending"] = Field(default="ascending", description="Sort order.")
    as_num: bool = Field(default=False, description="Compare as numbers (`Number(x)`) instead of as they are.")
    target: str = Field(default="payload", description='targetType "msg": the property holding the array.')
    targetType: Literal["msg", "seq"] = Field(
        default="msg", description='"msg": sort the array in `target`; "seq": sort a message sequence (`msg.parts`).'
    )
    msgKey: str = Field(default="payload", description='targetType "msg", msgKeyType "jsonata": the key of each item.')
    msgKeyType: Literal["elem", "jsonata"] = Field(
        default="elem", description='"elem": sort the array items themselves; "jsonata": by `msgKey` evaluated on each.'
    )
    seqKey: str = Field(
        default="payload", description='targetType "seq": the property (or JSONata) to sort messages by.'
    )
    seqKeyType: Literal["msg", "jsonata"] = Field(
        default="msg",
        description='"msg": sort messages by the property `seqKey`; "jsonata": by `seqKey` evaluated on each.',
    )

    _order = field_validator("order", mode="before")(lambda v: v or "ascending")
    _target = field_validator("target", "msgKey", "seqKey", mode="before")(lambda v: v or "payload")

    @model_validator(mode="after")
    def _key_expression(self) -> SortConfig:
        """A JSONata key that cannot parse is a problem at load, naming its field."""
        field_name = self.key_field()
        if field_name is not None:
            try:
                compile_jsonata(getattr(self, field_name))
            except ExpressionError as exc:
                raise ValueError(f"{field_name}: {exc}") from None
        return self

    def key_field(self) -> str | None:
        """``msgKey`` or ``seqKey`` when the sort key is a JSONata expression, else None."""
        if self.targetType == "msg":
            return "msgKey" if self.msgKeyType == "jsonata" else None
        return "seqKey" if self.seqKeyType == "jsonata" else None


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
        key_field = self.config.key_field()
        self.expression = compile_jsonata(getattr(self.config, key_field)) if key_field else None

    def on_input(self, msg: Msg) -> Any:
        if self.config.targetType == "msg":
            data = get_path(msg, self.config.target)
            if not isinstance(data, list):
                return None
            if self.expression is not None:
                return self._send_array_sorted_by_expression(msg, data)
            data.sort(key=self._sort_key(lambda item: item))
            self.send(msg)
            return None
        parts = msg.get("parts")
        if not isinstance(parts, dict) or "id" not in parts or "index" not in parts:
            return
        sequence = self.held.setdefault(_hashable(parts["id"]), _Sequence())
        sequence.messages.append(msg)
        if "count" in parts:
            sequence.count = parts["count"]
        if sequence.count == len(sequence.messages):
            del self.held[_hashable(parts["id"])]
            return self._send_sorted(sequence.messages)
        return None

    async def _send_sorted(self, messages: list[Msg]) -> None:
        if self.expression is not None:
            messages = await self._sorted_by_expression(messages)
        else:
            key = self.config.seqKey
            messages.sort(key=self._sort_key(lambda m: get_path(m, key)))
        for index, msg in enumerate(messages):
            msg["parts"]["index"] = index
            self.send(msg)

    async def _send_array_sorted_by_expression(self, msg: Msg, data: list[Any]) -> None:
        data[:] = await self._sorted_by_expression(data)
        self.send(msg)

    async def _sorted_by_expression(self, items: list[Any]) -> list[Any]:
        """Items ordered by the JSONata key evaluated on each (as Node-RED: item as the root)."""
        assert self.expression is not None
        keyed = [(await self.expression.evaluate(self, item), item) for item in items]
        keyed.sort(key=self._sort_key(lambda pair: pair[0]))
        return [item for _, item in keyed]

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

    async def on_start(self) -> None:
        if self.expression is not None and not self.expression.in_process:
            usercode.attach(self)

    async def on_close(self) -> None:
        self.held.clear()
        await usercode.detach(self)


def _hashable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
