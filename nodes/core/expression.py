"""``expression``: computes a value with a sandboxed Python expression and stores it on the message or in context."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from flowengine.errors import ExpressionError
from flowengine.message import Msg, clone, set_path
from flowengine.node import Node, NodeConfig
from nodes.core import usercode
from nodes.core.sandbox import KNOWN_FUNCTIONS, Sandbox, compile_expression
from nodes.core.typed import context_key

#: Functions an expression may call: the sandbox's and the context getters.
FUNCTIONS = KNOWN_FUNCTIONS | {"flow", "global_"}


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
        compile_expression(
            value, functions=FUNCTIONS
        )  # ExpressionError is a ValueError: reported with node id and field
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
    an evaluation to 100,000 steps and 0.5 s. When the flow is loaded, a syntax error, an
    unknown function, nesting deeper than 32 levels and repetition that could build more
    than 1,000,000 items (`[[0]*1000]*1000`, or a repeated list repeated by `payload`) are
    reported. Small work runs in the agent's process; anything that iterates or walks big
    data runs in a worker process that is killed after 1 s or at 256 MiB, so the agent
    keeps answering. A failure while evaluating goes to catch nodes with the message (and
    is logged once per node, then at most once a minute with a count).
    """

    Config = ExpressionConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.sandbox = Sandbox(self.config.expression, functions=FUNCTIONS)
        self._getters = {"flow": self._reader("flow"), "global_": self._reader("global")}

    async def on_start(self) -> None:
        usercode.attach(self)

    async def on_close(self) -> None:
        await usercode.detach(self)

    def _reader(self, scope: str) -> Any:
        def read(key: str, default: Any = None) -> Any:
            value = self.context(scope).get(context_key(key))
            return default if value is None else clone(value)

        read.__name__ = scope
        return read

    async def on_input(self, msg: Msg) -> None:
        names = {"msg": msg, "payload": msg.get("payload")}
        try:
            result = await usercode.evaluate_python(self, self.sandbox, names, self._getters)
        except ExpressionError as exc:
            usercode.report(self, exc, msg)
            return
        where, target = self.config.propertyType, self.config.property
        if where == "msg":
            set_path(msg, target, result)
        else:
            self.context(where).set(context_key(target), result)
        self.send(msg)
