"""JavaScript's value rules where Node-RED flows depend on them (switch comparisons, change replace).

Flows exported from Node-RED compare ``"5" == 5`` as true and ``"10" < 9`` numerically; these
helpers give the same answers on Python values (None stands for null and undefined).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|0[xX][0-9a-fA-F]+)\s*$")
_JS_GROUP = re.compile(r"\$(\$|&|\d{1,2})")


def js_str(value: Any) -> str:
    """``String(value)``: true -> "true", 1.0 -> "1", null -> "null", objects as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode(errors="replace")
    return json.dumps(value, separators=(",", ":"), default=str)


def js_num(value: Any) -> float | None:
    """``Number(value)``; None where JavaScript gives NaN."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and math.isnan(value) else float(value)
    if value is None:
        return 0.0  # Number(null); undefined would be NaN, but both are None here
    if isinstance(value, str):
        if not value.strip():
            return 0.0
        if _NUMBER.match(value):
            text = value.strip()
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
    return None


def loose_eq(a: Any, b: Any) -> bool:
    """``a == b`` with JavaScript's coercions between numbers, numeric strings and booleans."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if _scalar(a) and _scalar(b):
        x, y = js_num(a), js_num(b)
        return x is not None and x == y
    return bool(a == b)


def js_compare(a: Any, b: Any, op: str) -> bool:
    """``<``, ``<=``, ``>``, ``>=``: strings compare as text, anything else as numbers (NaN is false)."""
    if isinstance(a, str) and isinstance(b, str):
        x: Any = a
        y: Any = b
    else:
        x, y = js_num(a), js_num(b)
        if x is None or y is None:
            return False
    return {"lt": x < y, "lte": x <= y, "gt": x > y, "gte": x >= y}[op]


def js_replacement(template: str) -> str:
    """A JavaScript replacement string (``$1``, ``$&``, ``$$``) as a Python ``re.sub`` template."""
    out = []
    last = 0
    for match in _JS_GROUP.finditer(template):
        out.append(template[last : match.start()].replace("\\", "\\\\"))
        token = match.group(1)
        out.append("$" if token == "$" else "\\g<0>" if token == "&" else f"\\g<{int(token)}>")
        last = match.end()
    out.append(template[last:].replace("\\", "\\\\"))
    return "".join(out)


def js_regex(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """Compile a JavaScript regular expression source; named groups ``(?<n>`` become ``(?P<n>``."""
    source = re.sub(r"\(\?<(?![=!])", "(?P<", pattern)
    return re.compile(source, re.IGNORECASE if ignore_case else 0)


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))
