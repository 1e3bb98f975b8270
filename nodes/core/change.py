"""``change``: sets, changes, deletes and moves message properties and flow/global context."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from flowengine.errors import ExpressionError, NodeError
from flowengine.message import Msg, clone, delete_path, get_path, has_path, set_path
from flowengine.node import Node, NodeConfig
from nodes.core import usercode
from nodes.core.jsonata import JsonataExpression, compile_jsonata
from nodes.core.jsvalue import js_regex, js_replacement, js_str
from nodes.core.typed import JSONATA, VALUE_TYPES, check_static, check_type, context_key, static_value, typed_value

TARGETS = frozenset({"msg", "flow", "global"})
FROM_TYPES = frozenset({"str", "num", "bool", "re", "env", "msg", "flow", "global"})
#: Value types whose value is the same immutable object for every message (evaluated once).
CONSTANT_TYPES = frozenset({"str", "num", "bool"})
_MISSING = object()


class ChangeRule(NodeConfig):
    """One rule; applied in order, each seeing the result of the previous ones."""

    t: Literal["set", "change", "delete", "move"] = Field(description="What to do: set, change, delete or move.")
    pt: str = Field(default="msg", description="Where `p` lives: msg, flow or global.")
    p: str = Field(description="The property path (or context key) the rule works on.")
    tot: str = Field(
        default="str",
        description="Type of `to`: str, num, bool, json, date, bin, env, msg, flow, global, jsonata "
        "(move: msg, flow or global).",
    )
    to: Any = Field(default="", description="set: the new value; change: the replacement; move: the destination path.")
    fromt: str = Field(
        default="str", description="Type of `from`: str, num, bool, re (regular expression), env, msg, flow, global."
    )
    from_: Any = Field(default="", alias="from", description="change: the value or pattern to replace.")
    dc: bool = Field(default=False, description="set: deep-copy the value taken from msg/flow/global.")
    re: bool = Field(default=False, description='Legacy flag: `from` is a regular expression (same as fromt "re").')

    _jsonata: JsonataExpression | None = PrivateAttr(default=None)

    _pt = field_validator("pt")(lambda v: check_type(v, TARGETS, "property type"))

    @field_validator("to")
    @classmethod
    def _expression(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("tot") == JSONATA and info.data.get("t") in ("set", "change"):
            compile_jsonata(str(value))  # a syntax error names this field
        return value

    @field_validator("p")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("property must not be empty")
        return value

    @model_validator(mode="after")
    def _normalise(self) -> ChangeRule:
        if self.t == "change" and self.re:
            self.fromt = "re"
        if self.t == "set" and "tot" not in self.model_fields_set and str(self.to).startswith("msg."):
            self.to, self.tot = str(self.to)[4:], "msg"  # Node-RED's migration of old rules
        if self.t == "move" and "tot" not in self.model_fields_set:
            self.tot = "msg"
        check_type(self.tot, TARGETS if self.t == "move" else VALUE_TYPES | {JSONATA}, "to type (tot)")
        check_type(self.fromt, FROM_TYPES, "from type (fromt)")
        if self.t in ("set", "change"):
            check_static(self.to, self.tot)
            if self.tot == JSONATA:
                self._jsonata = compile_jsonata(str(self.to))
        if self.t == "change" and self.fromt == "re":
            try:
                js_regex(str(self.from_))
            except re.error as exc:
                raise ValueError(f"invalid regular expression {self.from_!r} in from: {exc}") from None
        return self


class ChangeConfig(NodeConfig):
    rules: list[ChangeRule] = Field(
        default_factory=list,
        description="The rules, applied in order. Each has `t` (set, change, delete, move), `p` and `pt` "
        "(msg, flow, global), `to` and `tot` (its type), for change `from` and `fromt` (str, num, bool, re, msg, "
        "flow, global), and `dc` (deep-copy a set value).",
    )
    # Node-RED 0.x single-rule form, converted to `rules` when `rules` is absent:
    action: str = Field(default="", description="Legacy single rule: replace, change, delete or move.")
    property: str = Field(default="", description="Legacy single rule: the property.")
    to: Any = Field(default="", description="Legacy single rule: the value or destination.")
    from_: Any = Field(default="", alias="from", description="Legacy single rule: the value to replace.")
    reg: bool = Field(default=False, description="Legacy single rule: `from` is a regular expression.")

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        if isinstance(data, dict) and "rules" not in data and data.get("action"):
            t = "set" if data["action"] == "replace" else data["action"]
            rule = {"t": t, "p": data.get("property", ""), "to": data.get("to", "")}
            if t == "change":
                rule |= {"from": data.get("from", ""), "re": data.get("reg", False) in (True, None)}
            data = {**data, "rules": [rule]}
        return data


class ChangeNode(Node[ChangeConfig]):
    """Applies its rules to each message, then sends it on.

    - set: `p` = the value `to` (typed by `tot`); a missing msg/flow/global source deletes `p`.
    - change: in a string, replace `from` (text, number, boolean or regular expression with
      `$1`-style references) by `to`; a property equal to `from` as a whole is replaced
      keeping the type of `to`; numbers and booleans are replaced only when equal.
    - delete: remove `p`.
    - move: set `to` (in `tot`: msg, flow or global) to `p`, then delete `p`.

    A `to` of type jsonata is a JSONata expression over the message (see the flow authoring
    guide); a result of undefined deletes `p`, a failure goes to catch nodes and the message
    stops there, as in Node-RED.

    Values written to flow/global context are copies, so later changes to the message
    never alter the stored context.
    """

    Config = ChangeConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        #: `to` of set/change rules with a constant type, by rule identity (the rules live as long as the node).
        self._constants = {
            id(rule): static_value(rule.to, rule.tot)
            for rule in self.config.rules
            if rule.t in ("set", "change") and rule.tot in CONSTANT_TYPES
        }
        #: JSONata `to` values by rule identity, read once: a pydantic private attribute costs a call per access.
        self._expressions = {id(rule): rule._jsonata for rule in self.config.rules if rule._jsonata is not None}

    def on_input(self, msg: Msg) -> Awaitable[None] | None:
        if self._uses_jsonata:
            return self._apply_with_jsonata(msg)
        for rule in self.config.rules:
            self.apply(rule, msg)
        self.send(msg)
        return None

    @property
    def _uses_jsonata(self) -> bool:
        return bool(self._expressions)

    async def on_start(self) -> None:
        if any(not expression.in_process for expression in self._expressions.values()):
            usercode.attach(self)

    async def on_close(self) -> None:
        await usercode.detach(self)

    async def _apply_with_jsonata(self, msg: Msg) -> None:
        """Rules in order; a JSONata value is computed just before its rule, seeing the rules before it."""
        try:
            for rule in self.config.rules:
                expression = self._expressions.get(id(rule))
                if expression is not None:
                    defined, value = await expression.evaluate_defined(self, msg)
                    self.apply(rule, msg, value if defined else _MISSING)
                else:
                    self.apply(rule, msg)
        except ExpressionError as exc:
            usercode.report(self, exc, msg)
            return
        self.send(msg)

    def apply(self, rule: ChangeRule, msg: Msg, computed: Any = None) -> None:
        """Apply one rule to ``msg`` (and context); ``computed`` is the value of a JSONata `to`."""
        if rule.t == "move":
            value = self._get(rule.pt, rule.p, msg)
            self._delete(rule.pt, rule.p, msg)
            self._put(rule.tot, str(rule.to), value, msg)
        elif rule.t == "delete":
            self._delete(rule.pt, rule.p, msg)
        elif rule.t == "set":
            self._put(rule.pt, rule.p, computed if id(rule) in self._expressions else self._to_value(rule, msg), msg)
        else:
            current = self._get(rule.pt, rule.p, msg)
            changed = self._changed(rule, current, msg, computed)
            if changed is not current:
                self._put(rule.pt, rule.p, changed, msg)

    def _to_value(self, rule: ChangeRule, msg: Msg) -> Any:
        constant = self._constants.get(id(rule), _MISSING)
        if constant is not _MISSING:
            return constant
        if rule.tot in TARGETS:
            value = self._get(rule.tot, str(rule.to), msg)
            return clone(value) if rule.dc else value
        return typed_value(self, rule.to, rule.tot, msg)

    def _changed(self, rule: ChangeRule, current: Any, msg: Msg, computed: Any = None) -> Any:
        """The new value of ``current`` under a change rule; ``current`` itself when unchanged."""
        kind, wanted = self._from(rule, msg)
        value = computed if id(rule) in self._expressions else self._to_value(rule, msg)
        value = None if value is _MISSING else value
        if isinstance(current, str):
            if kind in ("str", "num", "bool") and current == js_str(wanted):
                return value
            pattern = js_regex(str(wanted)) if kind == "re" else re.compile(re.escape(js_str(wanted)))
            result = pattern.sub(js_replacement(js_str(value)), current)
            return value if rule.tot == "bool" and result == js_str(value) else result
        if isinstance(current, (int, float)) and not isinstance(current, bool) and kind == "num":
            return value if _number_equal(current, wanted) else current
        if isinstance(current, bool) and kind == "bool":
            return value if js_str(current) == js_str(wanted) else current
        return current

    def _from(self, rule: ChangeRule, msg: Msg) -> tuple[str, Any]:
        if rule.fromt == "env":
            return "str", typed_value(self, rule.from_, "env", msg)
        if rule.fromt not in TARGETS:
            return rule.fromt, rule.from_ if rule.fromt == "re" else js_str(rule.from_)
        value = self._get(rule.fromt, str(rule.from_), msg)
        if isinstance(value, bool):
            return "bool", value
        if isinstance(value, (int, float)):
            return "num", value
        if isinstance(value, str):
            return "str", value
        raise NodeError(f"change rule: from value of type {type(value).__name__} is not supported")

    def _get(self, where: str, path: str, msg: Msg) -> Any:
        if where == "msg":
            return get_path(msg, path) if has_path(msg, path) else _MISSING
        value = self.context(where).get(context_key(path))
        return _MISSING if value is None else clone(value)

    def _put(self, where: str, path: str, value: Any, msg: Msg) -> None:
        if value is _MISSING:
            self._delete(where, path, msg)
        elif where == "msg":
            set_path(msg, path, value)
        else:
            self.context(where).set(context_key(path), clone(value))

    def _delete(self, where: str, path: str, msg: Msg) -> None:
        if where == "msg":
            delete_path(msg, path)
        else:
            self.context(where).set(context_key(path), None)


def _number_equal(current: float, wanted: Any) -> bool:
    try:
        return current == float(wanted)
    except (TypeError, ValueError):
        return False
