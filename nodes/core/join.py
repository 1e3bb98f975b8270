"""``join``: builds one message from a sequence (automatic, after a `split`) or from a count, a timeout or `msg.complete`."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from flowengine.clock import Timer
from flowengine.errors import ExpressionError, NodeError
from flowengine.message import Msg, clone, get_path, has_path, set_path
from flowengine.node import Node, NodeConfig
from nodes.core import usercode
from nodes.core.join_reduce import Reducer
from nodes.core.jsonata import compile_jsonata
from nodes.core.jsvalue import js_num, js_string
from nodes.core.split import unescape

REDUCE_INIT_TYPES = frozenset({"num", "str", "bool", "json", "jsonata", "flow", "global", "env", "date"})


class JoinConfig(NodeConfig):
    mode: Literal["auto", "custom", "reduce"] = Field(
        default="auto",
        description='"auto": rebuild what a split node split (from `msg.parts`); "custom": build from '
        '`count`, `timeout` or `msg.complete`; "reduce": fold a sequence with the JSONata `reduceExp`.',
    )
    build: Literal["string", "array", "object", "buffer", "merged"] = Field(
        default="array",
        description='custom: "string" (joined by `joiner`), "array", "object" (key from `key`), '
        '"buffer" (joined by `joiner`) or "merged" (the properties of every message merged).',
    )
    property: str = Field(default="payload", description="custom: the property to collect.")
    propertyType: Literal["msg", "full"] = Field(
        default="msg", description='"msg": collect `property`; "full": collect whole messages.'
    )
    key: str = Field(default="topic", description='custom, build "object": the property that gives each key.')
    joinerType: Literal["str", "bin"] = Field(default="str", description="What `joiner` is: str or bin.")
    joiner: Any = Field(
        default="", description="custom: the separator for string and buffer (`\\n` escapes; bin: JSON byte array)."
    )
    useparts: bool = Field(
        default=True, description="custom: keep using `msg.parts` (false: drop it, restoring an outer sequence)."
    )
    accumulate: Any = Field(
        default=False, description="custom: keep the collection after sending, adding later messages to it."
    )
    timeout: float = Field(default=0, ge=0, description="custom: send what has been collected after this many seconds.")
    count: Any = Field(
        default="",
        description='custom: send after this many messages; "" uses `msg.parts.count` (and `parts.id`) when present.',
    )
    reduceRight: Any = Field(default=False, description="reduce: fold from the last message to the first.")
    reduceExp: Any = Field(
        default=None, description="reduce: JSONata run per message, with `$A` (so far), `$I` (index), `$N` (count)."
    )
    reduceInit: Any = Field(default=None, description="reduce: the starting value of `$A`.")
    reduceInitType: Any = Field(
        default=None, description="reduce: the type of `reduceInit` (num, str, json, jsonata...)."
    )
    reduceFixup: Any = Field(
        default=None, description="reduce: JSONata turning the final `$A` (and `$N`) into the result."
    )

    _mode = field_validator("mode", mode="before")(lambda v: v or "auto")
    _build = field_validator("build", mode="before")(lambda v: v or "array")
    _property = field_validator("property", mode="before")(lambda v: v or "payload")
    _property_type = field_validator("propertyType", mode="before")(lambda v: v or "msg")
    _key = field_validator("key", mode="before")(lambda v: v or "topic")
    _joiner_type = field_validator("joinerType", mode="before")(lambda v: v or "str")
    _timeout = field_validator("timeout", mode="before")(lambda v: 0 if v in ("", None) else v)
    _useparts = field_validator("useparts", mode="before")(lambda v: True if v is None else bool(v))

    @model_validator(mode="after")
    def _reduce_expressions(self) -> JoinConfig:
        """A reduce expression that cannot parse is a problem at load, naming its field."""
        if self.mode != "reduce":
            return self
        for name in ("reduceExp", "reduceFixup", *(("reduceInit",) if self.reduceInitType == "jsonata" else ())):
            value = getattr(self, name)
            if name != "reduceExp" and value in ("", None):
                continue
            try:
                compile_jsonata(str(value or ""))
            except ExpressionError as exc:
                raise ValueError(f"{name}: {exc}") from None
        if (self.reduceInitType or "num") not in REDUCE_INIT_TYPES:
            raise ValueError(
                f"reduceInitType: {self.reduceInitType!r} is not one of {', '.join(sorted(REDUCE_INIT_TYPES))}"
            )
        return self

    @field_validator("count")
    @classmethod
    def _count(cls, value: Any) -> Any:
        if value not in ("", None) and js_num(value) is None:
            raise ValueError(f"count must be a number, got {value!r}")
        return value

    @field_validator("joiner")
    @classmethod
    def _joiner(cls, value: Any, info: Any) -> Any:
        if info.data.get("joinerType") == "bin":
            try:
                data = json.loads(value or "[]") if isinstance(value, str) else value
                bytes(data)
            except (ValueError, TypeError):
                raise ValueError(f"not a JSON array of bytes: {value!r}") from None
        return value


@dataclass
class _Group:
    """One sequence being collected."""

    kind: str
    msg: Msg
    prop: str
    target: Any
    payload: Any
    received: int = 0
    joiner: Any = None
    array_len: Any = None
    timer: Timer | None = None
    buffer_len: int = 0


class JoinNode(Node[JoinConfig]):
    """Joins a sequence of messages into one. In "auto" mode it reverses a `split` using
    `msg.parts` (strings rejoined with the separator, arrays, objects by key, buffers). In
    "custom" mode it collects `property` (or whole messages) into a string, array, object,
    buffer or merged object, and sends when `count` messages arrived, `timeout` seconds after
    the first, or when a message has `msg.complete`. `msg.reset` drops what was collected;
    `msg.restartTimeout` restarts the timeout. With `accumulate` the collection is kept and
    grows after each send.
    """

    Config = JoinConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        cfg = self.config
        self.groups: dict[Any, _Group] = {}
        self.timeout = 0.0 if cfg.mode == "auto" else cfg.timeout
        self.count = int(js_num(cfg.count) or 0) if cfg.count not in ("", None) else 0
        self.property = "payload" if cfg.propertyType == "full" else cfg.property
        self.joiner: Any = unescape(str(cfg.joiner or "")) if cfg.joinerType == "str" else bytes(_bin(cfg.joiner))
        self.reducer = Reducer(self) if cfg.mode == "reduce" else None

    def on_input(self, msg: Msg) -> Any:
        cfg = self.config
        if self.reducer is not None:
            return self.reducer.add(msg)
        if cfg.mode == "auto" and not (isinstance(msg.get("parts"), dict) and "id" in msg["parts"]):
            if "reset" in msg:
                self._drop_all()
            else:
                self.log.warning("message without msg.parts: cannot join in auto mode")
            return
        if cfg.mode == "custom" and "parts" in msg and not cfg.useparts:
            outer = msg["parts"].get("parts") if isinstance(msg["parts"], dict) else None
            if outer is not None:
                msg["parts"] = {"parts": outer}
            else:
                del msg["parts"]
        spec = self._auto(msg) if cfg.mode == "auto" else self._custom(msg)
        self._collect(msg, spec)

    def _auto(self, msg: Msg) -> dict[str, Any]:
        parts = msg["parts"]
        prop = parts.get("property") or "payload"
        return {
            "id": parts["id"],
            "kind": parts.get("type"),
            "target": parts.get("count"),
            "joiner": parts.get("ch"),
            "key": parts.get("key"),
            "array_len": parts.get("len"),
            "index": parts.get("index"),
            "prop": prop,
            "present": has_path(msg, prop),
            "value": get_path(msg, prop),
        }

    def _custom(self, msg: Msg) -> dict[str, Any]:
        cfg = self.config
        full = cfg.propertyType == "full"
        spec = {
            "id": "_",
            "kind": cfg.build,
            "target": self.count,
            "joiner": self.joiner,
            "key": get_path(msg, cfg.key) if cfg.build == "object" else None,
            "array_len": None,
            "index": None,
            "prop": self.property,
            "present": full or has_path(msg, cfg.property),
            "value": msg if full else get_path(msg, cfg.property),
        }
        parts = msg.get("parts")
        if cfg.count == "" and isinstance(parts, dict):
            spec["target"] = parts.get("count") or 0
            if "id" in parts:
                spec["id"] = parts["id"]
        return spec

    def _collect(self, msg: Msg, spec: dict[str, Any]) -> None:
        group_id = spec["id"]
        if "restartTimeout" in msg and group_id in self.groups:
            self._restart_timer(group_id)
        if "reset" in msg:
            self._drop(group_id)
            return
        if spec["kind"] == "object" and spec["key"] in (None, ""):
            self._keyless(msg, group_id)
            return
        group = self.groups.get(group_id) or self._open(group_id, spec, msg)
        self._add(group, spec, msg)
        group.msg.update(msg)
        target = group.target
        if "parts" in msg and isinstance(msg["parts"], dict):
            target = group.target = group.target or msg["parts"].get("count")
        if ((js_num(target) or 0) > 0 and group.received >= (js_num(target) or 0)) or "complete" in msg:
            self._complete(group_id)

    def _keyless(self, msg: Msg, group_id: Any) -> None:
        if self.config.mode == "auto":
            self.log.warning("message without msg.parts.key: cannot add to object")
        elif "complete" in msg:
            if group_id in self.groups:
                self.groups[group_id].msg["complete"] = msg["complete"]
                self._complete(group_id)
        else:
            self.log.warning("message without msg.%s: cannot add to object", self.config.key)

    def _open(self, group_id: Any, spec: dict[str, Any], msg: Msg) -> _Group:
        kind = spec["kind"]
        keyed = kind in ("object", "merged")
        group = _Group(
            kind="object" if keyed else kind,
            msg=clone(msg),
            prop=spec["prop"],
            target=spec["target"],
            payload={} if keyed else [],
            joiner=spec["joiner"] if kind in ("string", "buffer") else None,
            array_len=spec["array_len"] if kind == "array" else None,
        )
        self.groups[group_id] = group
        if self.timeout > 0:
            group.timer = self.clock.call_later(self.timeout, functools.partial(self._timed_out, group_id))
        return group

    def _add(self, group: _Group, spec: dict[str, Any], msg: Msg) -> None:
        kind, value = spec["kind"], spec["value"]
        if kind == "buffer" and spec["present"]:
            if not isinstance(value, (bytes, bytearray, str, list)):
                raise NodeError(f"cannot join {type(value).__name__} to buffer")
            group.buffer_len += len(value)
        if kind == "object":
            group.payload[js_string(spec["key"])] = value
            group.received = len(group.payload)
        elif kind == "merged":
            if isinstance(value, list) or not isinstance(value, dict | None):
                if "complete" not in msg:
                    self.log.warning("cannot merge non-object types")
            elif isinstance(value, dict):
                group.payload.update({k: v for k, v in value.items() if k != "_msgid"})
                group.received = len(group.payload)
        elif isinstance(spec["index"], (int, float)) and not isinstance(spec["index"], bool):
            index = int(spec["index"])
            if index >= len(group.payload) or group.payload[index] is None:
                group.received += 1
            group.payload.extend([None] * (index + 1 - len(group.payload)))
            group.payload[index] = value
        elif spec["present"]:
            group.payload.append(value)
            group.received += 1

    def _complete(self, group_id: Any) -> None:
        group = self.groups[group_id]
        if group.timer is not None:
            group.timer.cancel()
        if self.config.mode == "auto" or self.config.accumulate is not True or "complete" in group.msg:
            del self.groups[group_id]
        out = group.msg
        result = self._result(group)
        if group.kind == "string":
            set_path(out, group.prop or "payload", result)
        else:
            if self.config.propertyType == "full":
                out = group.msg = clone(out)
            set_path(out, group.prop or "payload", result)
        parts = out.get("parts")
        if isinstance(parts, dict) and "parts" in parts:
            out["parts"] = parts["parts"]
        else:
            out.pop("parts", None)
        out.pop("complete", None)
        self.send(clone(out))

    def _result(self, group: _Group) -> Any:
        if group.kind == "array" and (js_num(group.array_len) or 0) > 1:
            flat: list[Any] = []
            for item in group.payload:
                flat.extend(item if isinstance(item, list) else [item])
            group.payload = flat
        elif group.kind == "buffer":
            group.payload = _join_buffers(group.payload, group.joiner)
        elif group.kind == "string":
            joiner = group.joiner if isinstance(group.joiner, str) else js_string(_as_text(group.joiner))
            return joiner.join("" if item is None else js_string(item) for item in group.payload)
        return group.payload

    def _timed_out(self, group_id: Any) -> None:
        if group_id in self.groups:
            try:
                self._complete(group_id)
            except Exception as exc:
                self.error(exc)

    def _restart_timer(self, group_id: Any) -> None:
        group = self.groups[group_id]
        if group.timer is not None:
            group.timer.cancel()
            group.timer = None
        if self.timeout > 0:
            group.timer = self.clock.call_later(self.timeout, functools.partial(self._timed_out, group_id))

    def _drop(self, group_id: Any) -> None:
        group = self.groups.pop(group_id, None)
        if group is not None and group.timer is not None:
            group.timer.cancel()

    def _drop_all(self) -> None:
        for group_id in list(self.groups):
            self._drop(group_id)

    async def on_start(self) -> None:
        if self.reducer is not None and self.reducer.needs_worker:
            usercode.attach(self)

    async def on_close(self) -> None:
        self._drop_all()
        await usercode.detach(self)


def _bin(value: Any) -> list[int]:
    data = json.loads(value or "[]") if isinstance(value, str) else value
    return list(data or [])


def _as_text(value: Any) -> Any:
    """A joiner that is not text, as ``toString()`` gives it: a byte list or buffer as its characters."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return value


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode()
    return bytes(value)


def _join_buffers(items: list[Any], joiner: Any) -> bytes:
    if joiner is None:
        return b"".join(_to_bytes(item) for item in items)
    return _to_bytes(joiner).join(_to_bytes(item) for item in items)
