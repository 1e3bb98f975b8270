"""``switch``: routes each message to the outputs whose rule matches a property."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from flowengine.errors import ExpressionError
from flowengine.message import Msg
from flowengine.node import Node, NodeConfig
from nodes.core import usercode
from nodes.core.jsonata import JsonataExpression, compile_jsonata
from nodes.core.jsvalue import js_compare, js_num, js_regex, js_str, loose_eq
from nodes.core.typed import JSONATA, VALUE_TYPES, check_static, check_type, static_value, typed_value

PROPERTY_TYPES = frozenset({"msg", "flow", "global", "env", JSONATA})
RULE_VALUE_TYPES = VALUE_TYPES | {"prev", "re", "null", JSONATA}
#: Rule value types whose value is the same immutable object for every message (evaluated once).
CONSTANT_TYPES = frozenset({"str", "num", "bool"})
_PER_MESSAGE = object()


def _empty(a: Any) -> bool | None:
    """True/False for sized values and objects, None for anything else (neither empty nor not)."""
    if isinstance(a, (str, list, bytes, bytearray, dict)):
        return len(a) == 0
    return None


def _is_json(a: Any) -> bool:
    try:
        json.loads(a)
    except (TypeError, ValueError, RecursionError):
        return False
    return True


_ISTYPE: dict[str, Callable[[Any], bool]] = {
    "array": lambda a: isinstance(a, list),
    "buffer": lambda a: isinstance(a, (bytes, bytearray)),
    "json": _is_json,
    "null": lambda a: a is None,
    "number": lambda a: isinstance(a, (int, float)) and not isinstance(a, bool) and js_num(a) is not None,
    "string": lambda a: isinstance(a, str),
    "boolean": lambda a: isinstance(a, bool),
    "object": lambda a: isinstance(a, dict),
    "undefined": lambda a: a is None,
}

#: Operators by rule type: (property, v1, v2, case-insensitive) -> matched.
OPERATORS: dict[str, Callable[[Any, Any, Any, bool], bool]] = {
    "eq": lambda a, b, c, i: loose_eq(a, b),
    "neq": lambda a, b, c, i: not loose_eq(a, b),
    "lt": lambda a, b, c, i: js_compare(a, b, "lt"),
    "lte": lambda a, b, c, i: js_compare(a, b, "lte"),
    "gt": lambda a, b, c, i: js_compare(a, b, "gt"),
    "gte": lambda a, b, c, i: js_compare(a, b, "gte"),
    "btwn": lambda a, b, c, i: (
        (js_compare(a, b, "gte") and js_compare(a, c, "lte")) or (js_compare(a, b, "lte") and js_compare(a, c, "gte"))
    ),
    "cont": lambda a, b, c, i: js_str(b) in js_str(a),
    "regex": lambda a, b, c, i: js_regex(js_str(b), i).search(js_str(a)) is not None,
    "true": lambda a, b, c, i: a is True,
    "false": lambda a, b, c, i: a is False,
    "null": lambda a, b, c, i: a is None,
    "nnull": lambda a, b, c, i: a is not None,
    "empty": lambda a, b, c, i: _empty(a) is True,
    "nempty": lambda a, b, c, i: _empty(a) is False,
    "istype": lambda a, b, c, i: _ISTYPE.get(str(b), lambda _: False)(a),
    "hask": lambda a, b, c, i: isinstance(a, dict) and js_str(b) in a,
    "jsonata_exp": lambda a, b, c, i: b is True,
}


class SwitchRule(NodeConfig):
    """One rule; its output port is its position in `rules`."""

    t: str = Field(
        description="Test: eq, neq, lt, lte, gt, gte, btwn, cont, regex, true, false, null, nnull, empty, nempty, istype, "
        "hask, jsonata_exp (the JSONata expression `v` is true), else."
    )
    vt: str | None = Field(
        default=None,
        description="Type of `v` (str, num, bool, json, msg, flow, global, env, prev, jsonata); guessed from `v` when absent.",
    )
    v: Any = Field(default=None, description="The value to compare with (regex: the pattern; istype: the type name).")
    v2t: str | None = Field(default=None, description="Type of `v2` (btwn).")
    v2: Any = Field(default=None, description="btwn: the other bound.")
    case: bool = Field(default=False, description="regex: ignore case.")

    _v: JsonataExpression | None = PrivateAttr(default=None)
    _v2: JsonataExpression | None = PrivateAttr(default=None)

    @field_validator("v", "v2")
    @classmethod
    def _expression(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("vt" if info.field_name == "v" else "v2t") == JSONATA:
            compile_jsonata(str(value))  # a syntax error names this field
        return value

    @field_validator("t")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in OPERATORS and value != "else":
            hint = " (sequence rules need msg.parts, not supported)" if value in ("head", "tail", "index") else ""
            raise ValueError(f"unsupported rule {value!r}{hint}; expected one of {', '.join([*OPERATORS, 'else'])}")
        return value

    @model_validator(mode="after")
    def _types(self) -> SwitchRule:
        if self.t == "istype":
            self.vt = "str"  # Node-RED stores the type name in both v and vt
        self.vt = _guess(self.v, self.vt)
        check_type(self.vt, RULE_VALUE_TYPES, "rule value type (vt)")
        check_static(self.v, self.vt)
        if self.v2 is not None:
            self.v2t = _guess(self.v2, self.v2t)
            check_type(self.v2t, RULE_VALUE_TYPES, "rule value type (v2t)")
            check_static(self.v2, self.v2t)
        self._v = compile_jsonata(str(self.v)) if self.vt == JSONATA else None
        self._v2 = compile_jsonata(str(self.v2)) if self.v2t == JSONATA and self.v2 is not None else None
        if self.t == "regex" and self.vt in ("str", "re"):
            try:
                js_regex(js_str(self.v), self.case)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {self.v!r}: {exc}") from None
        return self


def _guess(value: Any, vtype: str | None) -> str:
    """Node-RED: a rule without a type is a number when its value looks like one, else a string."""
    if vtype:
        return vtype
    return "num" if value is not None and not isinstance(value, bool) and js_num(value) is not None else "str"


class SwitchConfig(NodeConfig):
    propertyType: str = Field(
        default="msg", description="Where `property` lives: msg, flow, global or env; or jsonata (an expression)."
    )
    property: str = Field(
        default="payload",
        description="The property to test (a msg path, context key or env var name, or a JSONata expression).",
    )
    rules: list[SwitchRule] = Field(
        default_factory=list,
        description="The rules; output n carries the messages rule n matched. Each has `t` (eq, neq, lt, lte, "
        "gt, gte, btwn, cont, regex, true, false, null, nnull, empty, nempty, istype, hask, else), `v` and `vt` "
        "(str, num, bool, json, msg, flow, global, env, prev), for btwn `v2` and `v2t`, for regex `case`.",
    )
    repair: Literal[False] = Field(
        default=False, description="Rebuilding message sequences (`msg.parts`) after routing is not supported."
    )
    checkall: bool = Field(
        default=True,
        description='true ("checking all rules"): send to every matching output; false: stop at the first match.',
    )
    outputs: int | None = Field(
        default=None, description="Written by Node-RED; the number of outputs is always the number of rules."
    )

    _property_type = field_validator("propertyType")(lambda v: check_type(v or "msg", PROPERTY_TYPES, "propertyType"))
    _property_expression: JsonataExpression | None = PrivateAttr(default=None)

    @field_validator("property")
    @classmethod
    def _expression(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("propertyType") == JSONATA:
            compile_jsonata(value)  # a syntax error names this field
        return value

    @model_validator(mode="after")
    def _compile(self) -> SwitchConfig:
        if self.propertyType == JSONATA:
            self._property_expression = compile_jsonata(self.property)
        return self

    def expressions(self) -> list[JsonataExpression]:
        """Every JSONata expression of this node."""
        found = [self._property_expression, *(e for r in self.rules for e in (r._v, r._v2))]
        return [e for e in found if e is not None]

    _checkall = field_validator("checkall", mode="before")(lambda v: True if v in ("", None) else v)


class SwitchNode(Node[SwitchConfig]):
    """Tests one property of each message against its rules and sends the message to the output
    of every matching rule (or only the first, with `checkall` false). Comparisons follow
    JavaScript, as in Node-RED: "5" equals 5, and numbers in strings compare as numbers.
    `else` matches when no rule since the previous `else` matched; `prev` compares with the
    property's value in the previous message. A JSONata property or rule value is evaluated
    for each message (`jsonata_exp` matches when it gives true; `$I` and `$N` are
    `msg.parts.index` and `count`); a failure goes to catch nodes and the message stops there.
    """

    Config = SwitchConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.previous: Any = None
        self._constants = [(_constant(r.v, r.vt), _constant(r.v2, r.v2t)) for r in self.config.rules]
        self._jsonata = self.config.expressions()

    async def on_start(self) -> None:
        if any(not e.in_process for e in self._jsonata):
            usercode.attach(self)

    async def on_close(self) -> None:
        await usercode.detach(self)

    @classmethod
    def output_count(cls, config: NodeConfig) -> int:
        assert isinstance(config, SwitchConfig)
        return len(config.rules)

    def on_input(self, msg: Msg) -> Awaitable[None] | None:
        if self._jsonata:
            return self._route_with_jsonata(msg)
        cfg = self.config
        value = typed_value(self, cfg.property, cfg.propertyType, msg)
        self._route(msg, value, self._constants)
        return None

    async def _route_with_jsonata(self, msg: Msg) -> None:
        """Evaluate JSONata values rule by rule up to the first match when stopping there (as Node-RED), then route."""
        try:
            value = await self._property(msg)
            operands: list[tuple[Any, Any]] = []
            for rule, (v1, v2) in zip(self.config.rules, self._constants, strict=True):
                pair = (await self._jsonata_operand(rule._v, v1, msg), await self._jsonata_operand(rule._v2, v2, msg))
                operands.append(pair)
                if not self.config.checkall and rule.t != "else" and self._test(rule, value, *pair, msg):
                    break
        except ExpressionError as exc:
            usercode.report(self, exc, msg)
            return
        operands += [(None, None)] * (len(self.config.rules) - len(operands))  # never reached: routing stops first
        self._route(msg, value, operands)

    async def _property(self, msg: Msg) -> Any:
        expression = self.config._property_expression
        if expression is None:
            return typed_value(self, self.config.property, self.config.propertyType, msg)
        return await expression.evaluate(self, msg)

    async def _jsonata_operand(self, expression: JsonataExpression | None, constant: Any, msg: Msg) -> Any:
        if expression is None:
            return constant
        parts = msg.get("parts")
        bindings = {"I": parts.get("index"), "N": parts.get("count")} if isinstance(parts, dict) else None
        return await expression.evaluate(self, msg, bindings)

    def _route(self, msg: Msg, value: Any, operands: list[tuple[Any, Any]]) -> None:
        cfg = self.config
        matched_ports: list[int] = []
        else_open = True  # no rule matched since the last `else`
        for port, (rule, (v1, v2)) in enumerate(zip(cfg.rules, operands, strict=True)):
            if rule.t == "else":
                matched, else_open = else_open, True
            else:
                matched = self._test(rule, value, v1, v2, msg)
            if matched:
                matched_ports.append(port)
                else_open = False
                if not cfg.checkall:
                    break
        self.previous = value
        if len(matched_ports) == 1:
            self.send(msg, matched_ports[0])
        elif matched_ports:
            onward: list[Msg | None] = [None] * (matched_ports[-1] + 1)
            for port in matched_ports:
                onward[port] = msg
            self.send(onward)

    def _test(self, rule: SwitchRule, value: Any, v1: Any, v2: Any, msg: Msg) -> bool:
        if v1 is _PER_MESSAGE:
            v1 = self._operand(rule.v, rule.vt, msg)
        if v2 is _PER_MESSAGE:
            v2 = self._operand(rule.v2, rule.v2t, msg)
        return OPERATORS[rule.t](value, v1, v2, rule.case)

    def _operand(self, value: Any, vtype: str | None, msg: Msg) -> Any:
        if vtype == "prev":
            return self.previous
        if value is None or vtype in (None, "re", "null"):
            return value
        return typed_value(self, value, vtype, msg)


def _constant(value: Any, vtype: str | None) -> Any:
    """A rule operand that is the same for every message, or ``_PER_MESSAGE``."""
    if vtype in ("prev", JSONATA):
        return _PER_MESSAGE
    if value is None or vtype in (None, "re", "null"):
        return value
    return static_value(value, vtype) if vtype in CONSTANT_TYPES else _PER_MESSAGE
