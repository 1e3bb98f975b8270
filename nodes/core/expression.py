"""``expression``: computes a value with a sandboxed Python expression and stores it on the message or in context."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from flowengine.message import Msg, clone, set_path
from flowengine.node import Node, NodeConfig
from nodes.core.sandbox import Sandbox, compile_expression
from nodes.core.typed import context_key


class ExpressionConfig(NodeConfig):
    expression: str = Field(
        description="A single Python expression over `msg`, `payload`, `flow(key, default)` and `global(key, default)`."
    )
    property: str = Field(default="payload", description="Where the result goes: a msg path, or a context key.")
    propertyType: Literal["msg", "flow", "global"] = Field(
        default="msg", description="Whether `property` is on the message or in flow or global context."
    )

    @field_validator("expression")
    @classmethod
    def _compiles(cls, value: str) -> str:
        compile_expression(value)  # ExpressionError is a ValueError: reported with node id and field
        return value

    _property = field_validator("property", mode="before")(lambda v: v or "payload")


class ExpressionNode(Node[ExpressionConfig]):
    """Evaluates `expression` for each message and stores the result in `property`, then sends
    the message on.

    The expression is one Python expression (no statements) over these names:
    `msg` (the message; `msg.topic` and `msg["topic"]` both read a key), `payload`
    (= `msg.payload`), `flow("key", default)` and `global("key", default)` (read-only copies
    of flow and global context; `global_` is the same getter). Available functions: abs, min,
    max, round, int, float, str, len, bool, sum, sorted, any, all, list, tuple, dict and the
    math helpers floor, ceil, sqrt, exp, log, log10, sin, cos, tan, atan2, radians, degrees,
    hypot, isnan; constants pi and e. Strings, dicts and lists offer their non-mutating methods.

    It runs in a sandbox: no imports, no names or attributes starting with `_`, no file or
    network access; strings and lists are limited to 1,000,000 items, integers to 100,000 bits,
    an evaluation to 100,000 steps and 0.5 s. A syntax error is reported when the flow is
    loaded; a failure while evaluating goes to catch nodes with the message.
    """

    Config = ExpressionConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.sandbox = Sandbox(self.config.expression)
        self._getters = {"flow": self._reader("flow"), "global_": self._reader("global")}

    def _reader(self, scope: str) -> Any:
        def read(key: str, default: Any = None) -> Any:
            value = self.context(scope).get(context_key(key))
            return default if value is None else clone(value)

        read.__name__ = scope
        return read

    def on_input(self, msg: Msg) -> None:
        result = self.sandbox.evaluate({"msg": msg, "payload": msg.get("payload")}, self._getters)
        where, target = self.config.propertyType, self.config.property
        if where == "msg":
            set_path(msg, target, result)
        else:
            self.context(where).set(context_key(target), result)
        self.send(msg)
