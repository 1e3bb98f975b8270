"""``join`` in reduce mode: a sequence folded into one value by a JSONata expression, as Node-RED does.

Messages of a sequence (``msg.parts``) wait until ``parts.count`` of them arrived;
then ``reduceExp`` runs once per message, in ``parts.index`` order (reversed with
``reduceRight``), with ``$A`` the value so far (starting from ``reduceInit``), ``$I``
the message's index and ``$N`` the count. ``reduceFixup``, if given, turns the final
``$A`` into the result. The last message folded leaves with ``payload`` = the result.
A message that is not part of a sequence passes unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowengine.message import Msg
from nodes.core.jsonata import JsonataExpression, compile_jsonata
from nodes.core.typed import JSONATA, typed_value

if TYPE_CHECKING:
    from nodes.core.join import JoinNode


@dataclass
class _Sequence:
    count: Any = None
    messages: list[Msg] = field(default_factory=list)


class Reducer:
    """The reduce-mode state of one join node."""

    def __init__(self, node: JoinNode) -> None:
        cfg = node.config
        self.node = node
        self.expression = compile_jsonata(str(cfg.reduceExp or ""))
        self.fixup = compile_jsonata(str(cfg.reduceFixup)) if cfg.reduceFixup not in ("", None) else None
        init_type = cfg.reduceInitType or "num"
        self.init: JsonataExpression | None = compile_jsonata(str(cfg.reduceInit)) if init_type == JSONATA else None
        self.right = bool(cfg.reduceRight)
        self.pending: dict[Any, _Sequence] = {}

    async def add(self, msg: Msg) -> None:
        parts = msg.get("parts")
        if not isinstance(parts, dict):
            self.node.send(msg)
            return
        key = repr(parts.get("id"))
        sequence = self.pending.setdefault(key, _Sequence())
        if sequence.count is None and "count" in parts:
            sequence.count = parts["count"]
        sequence.messages.append(msg)
        if len(sequence.messages) == sequence.count:
            del self.pending[key]
            await self._send(sequence)

    async def _send(self, sequence: _Sequence) -> None:
        ordered = sorted(sequence.messages, key=lambda m: m["parts"].get("index", 0), reverse=self.right)
        accumulator = await self._initial()
        for msg in ordered:
            bindings = {"A": accumulator, "I": msg["parts"].get("index"), "N": sequence.count}
            accumulator = await self.expression.evaluate(self.node, msg, bindings)
        if self.fixup is not None:
            accumulator = await self.fixup.evaluate(self.node, {}, {"A": accumulator, "N": sequence.count})
        last = ordered[-1]
        last["payload"] = accumulator
        self.node.send(last)

    async def _initial(self) -> Any:
        cfg = self.node.config
        if self.init is not None:
            return await self.init.evaluate(self.node, {})
        return typed_value(self.node, cfg.reduceInit, cfg.reduceInitType or "num", {})

    @property
    def needs_worker(self) -> bool:
        """Some expression is not provably bounded: it runs in a worker process."""
        expressions = (self.expression, self.fixup, self.init)
        return any(e is not None and not e.in_process for e in expressions)
