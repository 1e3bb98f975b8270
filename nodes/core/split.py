"""``split``: one message per line of a string, item of an array, key of an object or chunk of a buffer."""

from __future__ import annotations

import json
import math
import os
from typing import Any, Literal

from pydantic import Field, field_validator

from flowengine.message import Msg, clone, get_path, has_path, new_msg_id, set_path
from flowengine.node import Node, NodeConfig

#: Node-RED's escapes in a string separator ("\e" is JavaScript's "e": kept as Node-RED has it).
_ESCAPES = (("\\n", "\n"), ("\\r", "\r"), ("\\t", "\t"), ("\\e", "e"), ("\\f", "\f"), ("\\0", "\0"))


def unescape(text: str) -> str:
    """A separator or joiner as typed in the editor (``\\n``, ``\\t``...) as the characters it means."""
    for escaped, char in _ESCAPES:
        text = text.replace(escaped, char)
    return text


def new_parts_id() -> str:
    """A random sequence id, like Node-RED's ``RED.util.generateId()``."""
    return os.urandom(8).hex()


class SplitConfig(NodeConfig):
    spltType: Literal["str", "bin", "len"] = Field(default="str", description="What `splt` is: str, bin or len.")
    splt: Any = Field(
        default="\\n",
        description='How to split strings and buffers: the separator text ("str", `\\n` escapes allowed), '
        'a JSON array of bytes ("bin") or a chunk length ("len").',
    )
    arraySplt: int = Field(default=1, ge=1, description="Array items per message.")
    arraySpltType: Literal["len"] = Field(default="len", description="Arrays split by length (the only choice).")
    stream: bool = Field(
        default=False,
        description="Treat the input as a stream: keep what follows the last separator for the next message; "
        "no `parts.count`.",
    )
    addname: str = Field(default="", description="Objects: also put each key in this msg property.")
    property: str = Field(default="payload", description="The property to split.")

    _splt_type = field_validator("spltType", mode="before")(lambda v: v or "str")
    _array = field_validator("arraySplt", mode="before")(lambda v: 1 if v is None else v)
    _array_type = field_validator("arraySpltType", mode="before")(lambda v: v or "len")
    _property = field_validator("property", mode="before")(lambda v: v or "payload")
    _addname = field_validator("addname", mode="before")(lambda v: v or "")
    _stream = field_validator("stream", mode="before")(lambda v: v is True or v == "true")

    @field_validator("splt")
    @classmethod
    def _separator(cls, value: Any, info: Any) -> Any:
        kind = info.data.get("spltType", "str")
        if kind == "bin":
            try:
                data = json.loads(value) if isinstance(value, str) else value
                if not isinstance(data, list):
                    raise TypeError
                bytes(data)
            except (ValueError, TypeError):
                raise ValueError(f"not a JSON array of bytes: {value!r}") from None
        elif kind == "len":
            try:
                length = int(str(value).strip())
            except ValueError:
                length = 0
            if length < 1:
                raise ValueError(f"invalid split length {value!r}")
        return value


class SplitNode(Node[SplitConfig]):
    """Splits `property` into a sequence of messages, each with Node-RED's `msg.parts`
    (`id`, `index`, `count`, `type`, and `ch`/`len`/`key`) so a `join` in automatic mode
    rebuilds the original. Strings split at `splt` (or into `splt`-long chunks), arrays into
    `arraySplt` items, objects into one message per key, buffers at a byte sequence or length.
    In `stream` mode the tail after the last separator waits for the next message. Existing
    `msg.parts` is kept in `msg.parts.parts`. Other values are dropped.
    """

    Config = SplitConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        cfg = self.config
        self.counter = 0
        self.remainder = ""
        self.buffer = b""
        self.separator: str | bytes | int
        if cfg.spltType == "str":
            self.separator = unescape(str("\\n" if cfg.splt in ("", None) else cfg.splt))
        elif cfg.spltType == "bin":
            self.byte_list = json.loads(cfg.splt) if isinstance(cfg.splt, str) else list(cfg.splt)
            self.separator = bytes(self.byte_list)
        else:
            self.separator = int(str(cfg.splt).strip())

    def on_input(self, msg: Msg) -> None:
        path = self.config.property
        if not has_path(msg, path):
            return
        value = get_path(msg, path)
        msg["parts"] = {"parts": msg["parts"]} if "parts" in msg else {}
        msg["parts"]["id"] = new_parts_id()
        if path != "payload":
            msg["parts"]["property"] = path
        msg.pop("_msgid", None)
        if isinstance(value, str):
            self._string(msg, self.remainder + value)
        elif isinstance(value, list):
            self._array(msg, value)
        elif isinstance(value, dict):
            self._object(msg, value)
        elif isinstance(value, (bytes, bytearray)):
            self._buffer(msg, self.buffer + bytes(value))

    def _emit(self, msg: Msg, value: Any, index: int) -> None:
        set_path(msg, self.config.property, value)
        msg["parts"]["index"] = index
        out = clone(msg)
        out["_msgid"] = new_msg_id()
        self.send(out)

    def _next(self) -> int:
        index, self.counter = self.counter, self.counter + 1
        return index

    # -- strings ------------------------------------------------------------------------

    def _string(self, msg: Msg, value: str) -> None:
        parts, stream = msg["parts"], self.config.stream
        parts["type"] = "string"
        if isinstance(self.separator, int):
            self._string_chunks(msg, value, self.separator)
            return
        if isinstance(self.separator, bytes):
            pieces = value.split(self.separator.decode("utf-8", errors="replace"))
            parts["ch"] = self.byte_list
        else:
            pieces = value.split(self.separator)
            parts["ch"] = self.separator
        for piece in pieces[:-1]:
            if not stream:
                parts["count"] = len(pieces)
            self._emit(msg, piece, self._next())
        if stream:
            self.remainder = pieces[-1]
        else:
            parts["count"] = len(pieces)
            self._emit(msg, pieces[-1], self._next())
            self.counter = 0

    def _string_chunks(self, msg: Msg, value: str, size: int) -> None:
        parts = msg["parts"]
        parts["ch"], parts["len"] = "", size
        count = math.ceil(len(value) / size)
        if not self.config.stream:
            parts["count"] = count
            self.counter = 0
        for i in range(max(count - 1, 0)):
            self._emit(msg, value[i * size : (i + 1) * size], self._next())
        self.remainder = value[max(count - 1, 0) * size :]
        if not self.config.stream or len(self.remainder) == size:
            self._emit(msg, self.remainder, self._next())
            self.remainder = ""

    # -- arrays and objects ---------------------------------------------------------------

    def _array(self, msg: Msg, value: list[Any]) -> None:
        size = self.config.arraySplt
        parts = msg["parts"]
        parts["type"], parts["count"], parts["len"] = "array", math.ceil(len(value) / size), size
        template = clone(msg)
        for index in range(parts["count"]):
            chunk = value[index * size : (index + 1) * size]
            self._emit(template, chunk[0] if size == 1 else chunk, index)

    def _object(self, msg: Msg, value: dict[str, Any]) -> None:
        parts = msg["parts"]
        parts["type"] = "object"
        for index, (key, item) in enumerate(value.items()):
            if self.config.addname:
                set_path(msg, self.config.addname, key)
            parts["key"], parts["count"] = key, len(value)
            self._emit(msg, item, index)

    # -- buffers ------------------------------------------------------------------------

    def _buffer(self, msg: Msg, data: bytes) -> None:
        msg["parts"]["type"] = "buffer"
        if isinstance(self.separator, int):
            self._buffer_chunks(msg, data, self.separator)
        else:
            self._buffer_pieces(msg, data)

    def _buffer_chunks(self, msg: Msg, data: bytes, size: int) -> None:
        parts = msg["parts"]
        count = math.ceil(len(data) / size)
        if not self.config.stream:
            parts["count"] = count
            self.counter = 0
        parts["len"] = size
        for i in range(max(count - 1, 0)):
            self._emit(msg, data[i * size : (i + 1) * size], self._next())
        self.buffer = data[max(count - 1, 0) * size :]
        if not self.config.stream or len(self.buffer) == size:
            self._emit(msg, self.buffer, self._next())
            self.buffer = b""

    def _buffer_pieces(self, msg: Msg, data: bytes) -> None:
        parts = msg["parts"]
        if isinstance(self.separator, bytes):
            separator, parts["ch"] = self.separator, self.byte_list
        else:
            separator, parts["ch"] = str(self.separator).encode(), self.separator
        pieces = data.split(separator) if separator else [data]
        if not self.config.stream:
            parts["count"] = len(pieces)  # counts an empty tail that is never sent, as Node-RED does
            self.counter = 0
        for piece in pieces[:-1]:
            self._emit(msg, piece, self._next())
        tail = pieces[-1]
        if not self.config.stream and tail:
            index = self._next()
            parts["count"] = self._next()
            self._emit(msg, tail, index)
        else:
            self.buffer = tail
