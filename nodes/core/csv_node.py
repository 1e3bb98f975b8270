"""``csv``: converts between CSV text and objects (or arrays), RFC 4180 style."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import Field, field_validator

from flowengine.errors import NodeError
from flowengine.message import Msg, clone
from flowengine.node import Node, NodeConfig
from nodes.core import csvcodec
from nodes.core.jsvalue import js_string, js_truthy

LEGACY_UNSUPPORTED = (
    'the legacy CSV parser is not supported: set spec to "rfc" (Node-RED 4\'s default; in the editor, '
    'choose "RFC4180" as the parser)'
)


def _unescape(text: str) -> str:
    return text.replace("\\t", "\t").replace("\\n", "\n").replace("\\r", "\r")


class CsvConfig(NodeConfig):
    spec: Literal["rfc"] | None = Field(
        default=None, validate_default=True, description='The parser: "rfc" (RFC 4180; the only one).'
    )
    sep: str = Field(default=",", description="Column separator (`\\t` for a tab).")
    hdrin: Any = Field(default=False, description="CSV to object: the first line holds the column names.")
    hdrout: Literal["none", "all", "once"] = Field(
        default="none",
        description='Object to CSV: column names line "none", before "all" outputs, or "once" (until `msg.reset`).',
    )
    multi: Literal["one", "mult"] = Field(
        default="one", description='CSV to object: "one" message per row (a sequence), or "mult": one array.'
    )
    ret: str = Field(
        default="\\r\\n", validate_default=True, description="Line ending of generated CSV (`\\r\\n`, `\\n`...)."
    )
    temp: str = Field(default="", description="Column names, comma separated (empty: from the data).")
    skip: int = Field(default=0, ge=0, description="CSV to object: lines to skip first.")
    strings: Any = Field(default=True, description="CSV to object: numbers in cells become numbers.")
    include_empty_strings: Any = Field(default=False, description='CSV to object: keep empty cells ("") as "".')
    include_null_values: Any = Field(default=False, description="CSV to object: keep cells with nothing as null.")

    _sep = field_validator("sep", mode="before")(lambda v: _unescape(str(v or ",")))
    _ret = field_validator("ret", mode="before")(lambda v: _unescape(str(v or "\\r\\n")))
    _hdrout = field_validator("hdrout", mode="before")(
        lambda v: "all" if v is True else "none" if v in (False, "", None) else v
    )
    _multi = field_validator("multi", mode="before")(lambda v: v or "one")
    _temp = field_validator("temp", mode="before")(lambda v: v or "")
    _skip = field_validator("skip", mode="before")(lambda v: _leading_int(v))

    @field_validator("spec", mode="before")
    @classmethod
    def _rfc_only(cls, value: Any) -> Any:
        if value != "rfc":
            raise ValueError(LEGACY_UNSUPPORTED)
        return value

    @field_validator("temp")
    @classmethod
    def _template(cls, value: str) -> str:
        try:
            csvcodec.parse(value, strict=True)
        except csvcodec.CsvError as exc:
            raise ValueError(f"malformed columns template: {exc}") from None
        return value


def _leading_int(value: Any) -> int:
    match = re.match(r"\s*[-+]?\d+", js_string(value) if value not in (None, "") else "0")
    return int(match.group(0)) if match else 0


def template_columns(text: str) -> list[Any]:
    """A columns template as a list of names ([""] when it is empty or has more than one line)."""
    rows = csvcodec.parse(text, strict=True).rows
    return list(rows[0]) if len(rows) == 1 else [""]


def has_template(template: list[Any] | None) -> bool:
    return bool(template) and template != [""]


class CsvNode(Node[CsvConfig]):
    """Parses a CSV string into one message per row (`msg.parts` set, so join can rebuild the
    set) or one array of row objects (`multi` "mult"); column names come from `temp`, the first
    line (`hdrin`) or are col1, col2... Numbers are parsed unless `strings` is false; empty
    cells are left out unless `include_empty_strings` / `include_null_values`. An object, an
    array of objects or an array of arrays becomes CSV text with quoting as RFC 4180 requires,
    headed by the column names as `hdrout` says. `msg.columns` carries the column names.
    """

    Config = CsvConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.template = template_columns(self.config.temp)
        self.no_template = not has_template(self.template)
        self.header_sent = False
        self.store: list[dict[str, Any]] = []
        self.warned = False

    def on_input(self, msg: Msg) -> None:
        if "reset" in msg:
            self.header_sent = False
        if "payload" not in msg:
            if "reset" not in msg:
                self.send(msg)
            return
        payload = msg["payload"]
        if isinstance(payload, str):
            self._parse(msg, payload)
        elif isinstance(payload, (dict, list)):
            self._write(msg, payload)
        else:
            raise NodeError("This node only handles CSV strings or js objects.")

    # -- CSV to objects -----------------------------------------------------------------------

    def _parse(self, msg: Msg, text: str) -> None:
        cfg = self.config
        parts = msg.get("parts") if isinstance(msg.get("parts"), dict) else None
        first, last, line = True, False, 0
        if parts is not None:
            line = parts.get("index", 0)
            first = not line > cfg.skip
            last = "count" in parts and line + 1 >= parts["count"]
        cursor = 0
        if cfg.skip > 0 and line < cfg.skip:
            while cursor < len(text) and line < cfg.skip:
                line += text[cursor] in "\r\n"
                cursor += 1
            if cursor >= len(text):
                return
        breaks = len(re.findall(r"[\r\n]", text[cursor:]))
        if parts is not None and cfg.multi == "mult" and breaks > 1:
            first = True
        if first and cfg.hdrin is True:
            try:
                header = csvcodec.parse(text, cfg.sep, cursor=cursor, strict=True, first_only=True)
            except csvcodec.CsvError as exc:
                self.status("red", "dot", "Malformed columns template.")
                raise NodeError(str(exc)) from exc
            self.template, cursor = (header.rows[0] if header.rows else []), header.cursor
        result = csvcodec.parse(text, cfg.sep, cursor=cursor)
        headers = list(self.template) if has_template(self.template) else _numbered(result.rows)
        rows = csvcodec.to_objects(
            result.rows,
            headers,
            parse_numbers=cfg.strings is True,
            include_null=js_truthy(cfg.include_null_values),
            include_empty=js_truthy(cfg.include_empty_strings),
        )
        columns = csvcodec.header_line(headers)
        if cfg.multi == "mult":
            self._send_all(msg, rows, columns, parts if breaks <= 1 else None)
        else:
            self._send_each(msg, rows, columns, parts, last)

    def _send_all(self, msg: Msg, rows: list[dict[str, Any]], columns: str, parts: dict[str, Any] | None) -> None:
        if parts is None:
            msg["columns"], msg["payload"] = columns, rows
            self.send(msg)
            return
        self.store.extend(rows)
        if parts.get("index", 0) + 1 == parts.get("count"):
            msg["payload"], msg["columns"] = self.store, columns
            del msg["parts"]
            self.store = []
            self.send(msg)

    def _send_each(
        self, msg: Msg, rows: list[dict[str, Any]], columns: str, parts: dict[str, Any] | None, last: bool
    ) -> None:
        for index, row in enumerate(rows):
            out = clone(msg)
            out["columns"], out["payload"] = columns, row
            if parts is None:
                out["parts"] = {"id": msg.get("_msgid"), "index": index, "count": len(rows)}
            else:
                shift = self.config.skip + (1 if self.config.hdrin is True else 0)
                out["parts"]["index"] -= shift
                out["parts"]["count"] -= shift
            if last:
                out["complete"] = True
            self.send(out)
        if parts is not None and last and not rows:
            self.send({"complete": True})

    # -- objects to CSV -----------------------------------------------------------------------

    def _write(self, msg: Msg, data: dict[str, Any] | list[Any]) -> None:
        cfg = self.config
        rows: list[Any] = [data] if isinstance(data, dict) else data
        arrays = bool(rows) and isinstance(rows[0], list)
        if isinstance(data, list) and data and not isinstance(data[0], (dict, list, type(None))):
            rows, arrays = [data], True
        parts = msg.get("parts")
        if not (self.no_template and isinstance(parts, dict) and parts.get("index", 0) > 0):
            self.template = template_columns(cfg.temp)
        lines = []
        if cfg.hdrout != "none" and not self.header_sent:
            if not has_template(self.template):
                self.template = self._columns_of(msg, rows)
            lines.append(csvcodec.header_line(self.template, cfg.sep, keep_empty=True))
            self.header_sent = cfg.hdrout == "once"
        for row in rows:
            lines.append(self._array_line(row) if arrays else self._object_line(msg, row, rows[0]))
        msg["payload"] = cfg.ret.join(lines) + cfg.ret
        msg["columns"] = csvcodec.header_line(self.template)
        if msg["payload"] != "":
            self.send(msg)

    def _columns_of(self, msg: Msg, rows: list[Any]) -> list[Any]:
        if "columns" in msg:
            return template_columns(js_string(msg["columns"] or ""))
        if not rows or rows[0] is None:
            raise NodeError("cannot read the column names of an empty or null payload")
        first = rows[0]
        return [str(i) for i in range(len(first))] if isinstance(first, list) else list(first)

    def _array_line(self, row: Any) -> str:
        cells = row if isinstance(row, list) else []
        size = len(self.template) if has_template(self.template) else len(cells)
        out = []
        for index in range(size):
            cell = cells[index] if index < len(cells) else ""
            keep = not has_template(self.template) or self.template[index]
            out.append(self._quote(_ensure_string(cell)) if keep else "")
        return self.config.sep.join(out)

    def _object_line(self, msg: Msg, row: Any, first: Any) -> str:
        if not isinstance(row, dict):
            raise NodeError("This node only handles CSV strings or js objects.")
        if not has_template(self.template) and "columns" in msg:
            self.template = template_columns(js_string(msg["columns"] or ""))
        if has_template(self.template):
            return self.config.sep.join(
                self._quote(_ensure_string(row.get(str(name), ""))) if name else "" for name in self.template
            )
        if not self.warned:
            self.log.warning("No columns template specified for object -> CSV.")
            self.warned = True
        self.template = list(row)
        keys = first if isinstance(first, dict) else {}
        cells = [row[key] for key in keys if key in row]
        return self.config.sep.join(
            self._quote(js_string(c)) for c in cells if not isinstance(c, (dict, list, type(None)))
        )

    def _quote(self, cell: str) -> str:
        sep = self.config.sep
        return csvcodec.quote_cell(cell, separator=sep, quoteables=(sep, '"', "\n", "\r"))


def _numbered(rows: list[list[str | None]]) -> list[str]:
    return [f"col{i + 1}" for i in range(len(rows[0]))] if rows else []


def _ensure_string(value: Any) -> str:
    """Node-RED's ``ensureString``: buffers as text, objects (and null) as JSON, the rest as ``String()``."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (dict, list)) or value is None:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return js_string(value)
