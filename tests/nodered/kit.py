"""The differential test kit's shared parts: reading cases and putting results in one comparable form.

Used by ``tests/test_nodered_cases.py`` (flowengine side) and ``scripts/record_nodered.py``
(Node-RED side), so both sides describe a message the same way:

- only the ``compare`` fields (dotted paths allowed), a field the message lacks is left out;
- buffers as Node-RED's JSON form ``{"type": "Buffer", "data": [bytes...]}``;
- numbers with no fraction as integers (JavaScript has one number type);
- every ``parts.id`` (random per run) replaced by ``"#1"``, ``"#2"``... in order of appearance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CASES = Path(__file__).parent / "cases"
DEFAULT_COMPARE = ["topic", "payload"]


@dataclass
class Case:
    """One case directory: a Node-RED flow, the messages to send it, and what Node-RED sent."""

    name: str
    path: Path
    flow: list[dict[str, Any]]
    description: str
    entry: str
    inputs: list[dict[str, Any]]
    settle_ms: int
    compare: list[str]
    requires: list[str]
    expected: dict[str, Any] | None = field(default=None)

    @property
    def debug_ids(self) -> list[str]:
        return [node["id"] for node in self.flow if node.get("type") == "debug"]

    @property
    def tab(self) -> str:
        return next(node["id"] for node in self.flow if node.get("type") == "tab")


def load_case(path: Path) -> Case:
    spec = json.loads((path / "case.json").read_text())
    expected_file = path / "expected.json"
    return Case(
        name=path.name,
        path=path,
        flow=json.loads((path / "flow.json").read_text()),
        description=spec["description"],
        entry=spec["entry"],
        inputs=spec["inputs"],
        settle_ms=int(spec.get("settle_ms", 0)),
        compare=list(spec.get("compare", DEFAULT_COMPARE)),
        requires=list(spec.get("requires", [])),
        expected=json.loads(expected_file.read_text()) if expected_file.exists() else None,
    )


def all_cases(root: Path = CASES) -> list[Case]:
    return [load_case(path) for path in sorted(root.iterdir()) if (path / "case.json").exists()]


_MISSING = object()


def compared_fields(msg: dict[str, Any], compare: list[str]) -> dict[str, Any]:
    """The ``compare`` paths of ``msg`` that it has (``a.b``, ``a.0.b``: as Node-RED's getMessageProperty reads them)."""
    found = {}
    for path in compare:
        value: Any = msg
        for part in path.split("."):
            if isinstance(value, dict):
                value = value.get(part, _MISSING)
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                value = _MISSING
            if value is _MISSING:
                break
        if value is not _MISSING:
            found[path] = value
    return found


def revive_buffers(value: Any) -> Any:
    """``{"type": "Buffer", "data": [...]}`` anywhere in ``value`` as bytes (what Node-RED gets as a Buffer)."""
    if isinstance(value, dict):
        if value.get("type") == "Buffer" and isinstance(value.get("data"), list) and len(value) == 2:
            return bytes(value["data"])
        return {k: revive_buffers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [revive_buffers(v) for v in value]
    return value


def to_json_form(value: Any) -> Any:
    """A value as Node-RED's ``JSON.stringify`` writes it: bytes as Buffer objects, integral floats as ints."""
    if isinstance(value, (bytes, bytearray)):
        return {"type": "Buffer", "data": list(value)}
    if isinstance(value, dict):
        return {str(k): to_json_form(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_form(v) for v in value]
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    return value


def canonical(outputs: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Outputs per debug node (sorted ids, empty lists dropped) with ``parts.id`` values numbered."""
    names: dict[str, str] = {}
    result = {}
    for debug_id in sorted(outputs):
        if outputs[debug_id]:
            result[debug_id] = [_number_ids(to_json_form(msg), names) for msg in outputs[debug_id]]
    return result


def _number_ids(value: Any, names: dict[str, str], key: str = "") -> Any:
    if isinstance(value, dict):
        out = {k: _number_ids(v, names, k) for k, v in value.items()}
        if key == "parts" and isinstance(out.get("id"), (str, int)):
            out["id"] = names.setdefault(json.dumps(out["id"]), f"#{len(names) + 1}")
        return out
    if isinstance(value, list):
        return [_number_ids(v, names) for v in value]
    return value


def same(a: Any, b: Any) -> bool:
    """Equal as JSON (``true`` is not ``1``; key order does not matter)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
