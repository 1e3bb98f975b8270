"""Mustache templates as Node-RED's template node renders them (mustache.js 4 semantics).

Written here rather than taken from chevron or pystache because the template node's
output is defined by three things those libraries do differently and offer no hook for:
the lookup (the message first, then ``env.X``, ``flow.x``, ``global.x``, else ""),
JavaScript's ``String()`` of values (``1`` not ``1.0``, arrays as ``a,b``), and
mustache.js's escape set (``& < > " ' / ` =``). Parsing follows mustache.js: standalone
section, comment and delimiter lines vanish with their newline; partials render as "".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nodes.core.jsvalue import js_string, js_truthy

#: A lookup: the name and the stack of section values (the message at the bottom) -> the value.
Lookup = Callable[[str, list[Any]], Any]
_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#39;",
    "/": "&#x2F;",
    "`": "&#x60;",
    "=": "&#x3D;",
}
_ESCAPE = re.compile(r"[&<>\"'`=/]")
NOT_FOUND = object()


class MustacheError(ValueError):
    """A template that cannot be parsed (unclosed tag or section)."""


@dataclass
class Token:
    kind: str  # "text", "name" (escaped), "&" (raw), "#", "^", ">", "!", "="
    value: str
    children: list[Token] = field(default_factory=list)


def escape_html(text: str) -> str:
    """mustache.js's HTML escape."""
    return _ESCAPE.sub(lambda m: _ESCAPES[m.group(0)], text)


def parse(template: str) -> list[Token]:
    """The template as a tree of tokens (sections hold their children)."""
    return _nest(_strip_standalone(_scan(template)))


def render(tokens: list[Token], lookup: Lookup, stack: list[Any]) -> str:
    """Render parsed tokens; ``stack`` holds the message and the values of the sections entered."""
    out: list[str] = []
    for token in tokens:
        if token.kind == "text":
            out.append(token.value)
        elif token.kind in ("name", "&"):
            value = lookup(token.value, stack)
            if value is not None:
                text = js_string(value)
                is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
                out.append(text if token.kind == "&" or is_number else escape_html(text))
        elif token.kind == "#":
            out.append(_section(token, lookup(token.value, stack), lookup, stack))
        elif token.kind == "^":
            value = lookup(token.value, stack)
            if not js_truthy(value) or value == []:
                out.append(render(token.children, lookup, stack))
    return "".join(out)


def _section(token: Token, value: Any, lookup: Lookup, stack: list[Any]) -> str:
    if not js_truthy(value):
        return ""
    if isinstance(value, list):
        return "".join(render(token.children, lookup, [*stack, item]) for item in value)
    if value is True:
        return render(token.children, lookup, stack)
    return render(token.children, lookup, [*stack, value])


def lookup_in(name: str, stack: list[Any]) -> Any:
    """mustache.js's context lookup: the innermost view that has ``name`` (dotted paths walk), else NOT_FOUND."""
    if name == ".":
        return stack[-1]
    for view in reversed(stack):
        if "." in name[1:]:
            found, value = _walk(view, name.split("."))
        else:
            found, value = (True, view[name]) if isinstance(view, dict) and name in view else (False, None)
            if isinstance(view, list) and (name == "length" or name.isdigit()):
                found, value = _member(view, name)
        if found:
            return value
    return NOT_FOUND


def _walk(view: Any, names: list[str]) -> tuple[bool, Any]:
    value = view
    for index, name in enumerate(names):
        if value is None:
            return False, None
        found, value = _member(value, name)
        if not found and index < len(names) - 1:
            return False, None
    return found, value


def _member(value: Any, name: str) -> tuple[bool, Any]:
    """``value[name]`` as JavaScript would find it on an object, array or string."""
    if isinstance(value, dict):
        return (True, value[name]) if name in value else (False, None)
    if isinstance(value, (list, str)):
        if name == "length":
            return True, len(value)
        if name.isdigit() and int(name) < len(value):
            return True, value[int(name)]
    return False, None


# -- parsing ---------------------------------------------------------------------------


@dataclass
class _Line:
    """Token positions on the current line, to drop whitespace around a standalone tag."""

    spaces: list[int] = field(default_factory=list)
    has_tag: bool = False
    non_space: bool = False


def _scan(template: str) -> list[Token | None]:
    tokens: list[Token | None] = []
    opening, closing = "{{", "}}"
    line = _Line()
    pos = 0
    while pos < len(template):
        start = template.find(opening, pos)
        text = template[pos : len(template) if start < 0 else start]
        for chunk in re.findall(r"[^\S\n]+|\n|\S+", text):
            if chunk.isspace():
                line.spaces.append(len(tokens))
            else:
                line.non_space = True
            tokens.append(Token("text", chunk))
            if chunk == "\n":
                line = _end_line(tokens, line)
        if start < 0:
            break
        kind, value, pos = _tag(template, start + len(opening), opening, closing)
        line.has_tag = True
        if kind == "=":
            opening, closing = _delimiters(value)
        elif kind in ("name", "&"):
            line.non_space = True
        tokens.append(Token(kind, value))
    _end_line(tokens, line)
    return tokens


def _tag(template: str, pos: int, opening: str, closing: str) -> tuple[str, str, int]:
    kind = template[pos : pos + 1]
    if kind in ("#", "^", "/", ">", "{", "&", "=", "!"):
        pos += 1
    else:
        kind = "name"
    end_mark = "}" + closing if kind == "{" else "=" + closing if kind == "=" else closing
    end = template.find(end_mark, pos)
    if end < 0:
        raise MustacheError(f"unclosed tag at {pos}")
    value = template[pos:end].strip()
    return ("&" if kind == "{" else kind), value, end + len(end_mark)


def _delimiters(value: str) -> tuple[str, str]:
    parts = value.split()
    if len(parts) != 2:
        raise MustacheError(f"invalid delimiters {value!r}")
    return parts[0], parts[1]


def _end_line(tokens: list[Token | None], line: _Line) -> _Line:
    """A line holding only whitespace and non-variable tags loses that whitespace and its newline."""
    if line.has_tag and not line.non_space:
        for index in line.spaces:
            tokens[index] = None
    return _Line()


def _strip_standalone(tokens: list[Token | None]) -> list[Token]:
    return [t for t in tokens if t is not None and t.kind not in ("!", "=", ">")]


def _nest(tokens: list[Token]) -> list[Token]:
    root: list[Token] = []
    sections: list[Token] = []
    current = root
    for token in tokens:
        if token.kind in ("#", "^"):
            current.append(token)
            sections.append(token)
            current = token.children
        elif token.kind == "/":
            if not sections or sections[-1].value != token.value:
                raise MustacheError(f"unopened or unclosed section {token.value!r}")
            sections.pop()
            current = sections[-1].children if sections else root
        else:
            current.append(token)
    if sections:
        raise MustacheError(f"unclosed section {sections[-1].value!r}")
    return root
