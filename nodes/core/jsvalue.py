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


def js_number_str(value: float) -> str:
    """``String(n)`` for a number: shortest digits, exponent only below 1e-6 or from 1e21 ("1e+21")."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    digits, exponent = _shortest_digits(abs(value))
    k, n = len(digits), exponent + len(digits)  # value = 0.digits * 10**n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"


def _shortest_digits(value: float) -> tuple[str, int]:
    """The shortest round-trip digits of ``value`` (no trailing zeros) and their power-of-ten exponent."""
    mantissa, _, exp = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    exponent = int(exp or 0) - len(fraction)
    stripped = digits.rstrip("0")
    return stripped, exponent + len(digits) - len(stripped)


def js_string(value: Any) -> str:
    """JavaScript's ``String(value)`` (objects are "[object Object]", arrays join their items with ",")."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return js_number_str(value)
    if isinstance(value, list):
        return ",".join("" if item is None else js_string(item) for item in value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return "[object Object]"


def js_truthy(value: Any) -> bool:
    """JavaScript truthiness: false, null, 0, NaN and "" are false; every object and array is true."""
    if value is None or value is False or value == "":
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value == value and value != 0
    return True


_LEADING_FLOAT = re.compile(r"^\s*([+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))")


def js_parse_float(value: Any) -> float | None:
    """``parseFloat(value)``: the number at the start of its text; None where JavaScript gives NaN."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return None if value != value else float(value)
    match = _LEADING_FLOAT.match(js_string(value) if value is not None else "")
    return float(match.group(1).replace("Infinity", "inf")) if match else None


def strict_equal(a: Any, b: Any) -> bool:
    """``===`` for primitives and Node-RED's ``compareObjects`` for objects and arrays (deep)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)
