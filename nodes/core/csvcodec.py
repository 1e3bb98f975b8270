"""CSV text to rows and back, with the csv node's RFC 4180 rules (pure functions).

Deviations from RFC 4180 are Node-RED's: any one-character separator, ``\\r``, ``\\n`` or
``\\r\\n`` end a record, a cell with no characters at all is null (``1,,3``) while ``""`` is an
empty string, and outside strict mode a stray quote is kept as text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nodes.core.jsvalue import js_num

_NO_NUMBER = re.compile(r"^ *(\+|-0\d|0\d)")


class CsvError(ValueError):
    """Malformed CSV in strict mode (a quote inside an unquoted cell, text after a closing quote, an open quote)."""


@dataclass
class Parsed:
    """What :func:`parse` found: the column names, the rows, and where it stopped."""

    headers: list[Any] = field(default_factory=list)
    rows: list[list[str | None]] = field(default_factory=list)
    cursor: int = 0


@dataclass
class _Cell:
    chars: list[str] = field(default_factory=list)
    new: bool = True
    in_quote: bool = False
    closed: bool = False


def parse(
    text: str,
    separator: str = ",",
    quote: str = '"',
    *,
    cursor: int = 0,
    strict: bool = False,
    first_only: bool = False,
) -> Parsed:
    """Records of ``text`` from ``cursor`` on, as lists of cells (None for a cell with no characters)."""
    rows: list[list[str | None]] = []
    row: list[str | None] = []
    cell = _Cell()
    end = len(text)
    while cursor < end:
        char = text[cursor]
        if cell.in_quote:
            cursor = _quoted_char(text, cursor, quote, cell)
        elif char == separator:
            row.append(_finish(cell))
            cell = _Cell()
            cursor += 1
        elif char == quote:
            cursor = _quote_outside(text, cursor, quote, separator, cell, strict)
        elif char in "\r\n":
            _finish_row(rows, row, cell)
            row, cell = [], _Cell()
            cursor += 2 if text[cursor + 1 : cursor + 2] == "\n" else 1
            if first_only:
                break
        elif cell.closed:
            if strict:
                raise CsvError(f"data found after closing quote at {cursor}")
            cell.closed = False  # the discarded quote's character is read again
            cursor -= 1
        else:
            cell.chars.append(char)
            cell.new = False
            cursor += 1
    if strict and cell.in_quote:
        raise CsvError(f"missing quote, unclosed cell at {cursor}")
    _finish_row(rows, row, cell)
    return Parsed(rows=rows, cursor=cursor)


def _quoted_char(text: str, cursor: int, quote: str, cell: _Cell) -> int:
    cell.new = False
    if text[cursor] == quote and text[cursor + 1 : cursor + 2] == quote:
        cell.chars.append(quote)
        cell.closed = False
        return cursor + 2
    if text[cursor] == quote:
        cell.in_quote, cell.closed = False, True
        return cursor + 1
    cell.chars.append(text[cursor])
    cell.closed = False
    return cursor + 1


def _quote_outside(text: str, cursor: int, quote: str, separator: str, cell: _Cell, strict: bool) -> int:
    if cell.new:
        cell.in_quote, cell.new, cell.closed = True, False, False
        return cursor + 1
    if strict:
        raise CsvError(f"quote found in the middle of an unquoted field at {cursor}")
    cursor += 1  # not strict: keep one quote unless the cell or record ends here
    following = text[cursor : cursor + 1]
    if following and following not in ("\n", "\r", separator):
        cell.chars.append(quote)
        if following == quote:
            cursor += 1
    return cursor


def _finish(cell: _Cell) -> str | None:
    text = "".join(cell.chars)
    return text or (None if cell.new else "")


def _finish_row(rows: list[list[str | None]], row: list[str | None], cell: _Cell) -> None:
    if cell.chars:
        row.append(_finish(cell))
    if row:
        rows.append(row)


def to_objects(
    rows: Sequence[Sequence[str | None]],
    headers: Sequence[Any],
    *,
    parse_numbers: bool,
    include_null: bool,
    include_empty: bool,
) -> list[dict[str, Any]]:
    """Rows as objects keyed by ``headers`` (columns without a header are left out; empty rows dropped)."""
    objects = []
    for row in rows:
        obj: dict[str, Any] = {}
        for index, header in enumerate(headers):
            if not header:
                continue
            value: Any = row[index] if index < len(row) else None
            if value is None and not include_null:
                continue
            if value == "" and not include_empty:
                continue
            if parse_numbers and value and not _NO_NUMBER.match(value):
                value = _number(value)
            obj[str(header)] = value
        if obj:
            objects.append(obj)
    return objects


def _number(text: str) -> Any:
    number = js_num(text)
    if number is None:
        return text
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def quote_cell(cell: str, quote: str = '"', separator: str = ",", quoteables: Sequence[str] | None = None) -> str:
    """``cell`` quoted when it holds a quote, the separator or a line break; quotes inside doubled."""
    quoteables = quoteables if quoteables is not None else (quote, separator, "\r", "\n")
    wrap = quote if any(q in cell for q in quoteables) else ""
    return wrap + cell.replace('"', '""') + wrap


def header_line(headers: Sequence[Any], separator: str = ",", *, keep_empty: bool = False) -> str:
    """Column names as one line: every name (``keep_empty``) or only the non-empty ones, quoted as needed."""
    if keep_empty:
        names = [
            quote_cell(str(h or ""), separator=separator, quoteables=(separator, '"', "\n", "\r")) for h in headers
        ]
    else:
        return ",".join(quote_cell(str(h)) for h in headers if h)
    return separator.join(names)
