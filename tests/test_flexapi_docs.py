"""The committed topic reference is exactly what the generator makes from the code's tables."""

from __future__ import annotations

from pathlib import Path

from nodes.flexapi.docgen import generate
from nodes.flexapi.envelope import PRECISE_CONDITIONS
from nodes.flexapi.groups import GROUPS
from nodes.flexapi.params import ALL_PARAMS, PARAMS

DOC = Path(__file__).resolve().parents[1] / "docs" / "flexapi-topics.md"


def test_committed_topic_reference_matches_the_generator() -> None:
    assert DOC.read_text(encoding="utf-8") == generate(), "run: python -m nodes.flexapi.docgen > docs/flexapi-topics.md"


def test_reference_covers_every_topic_and_parameter() -> None:
    text = generate()
    for group in GROUPS.values():
        assert f"{{root}}/{group.name}/refresh/resp" in text
        if group.timed:
            assert f"{{root}}/{group.name}/info" in text and f"{{root}}/{group.name}/set/resp" in text
    for topic in ("io/control", "app/control", "group/set", "group/get", "group1/refresh", "group1/set", "group1/info"):
        assert f"{{root}}/{topic}" in text
    assert all(f"`{key}`" in text for key in PARAMS)


def test_reference_covers_both_revisions() -> None:
    text = generate()
    assert "| condition | 1.0.8 answers | 1.0.9 answers | meaning |" in text
    for condition, code in PRECISE_CONDITIONS.items():
        assert f"| {condition} | `{code}` | `{condition}` |" in text
    assert "{root}/io/toggle/resp" in text and "io.DO1_toggle_ms" in text
    for group in GROUPS:
        assert f"`{group}.ul_ts`" in text
    assert "| `gnss.type` | 1.0.9 |" in text and "| `obd.brake_prim_press` | 1.0.8 only |" in text
    assert "1.0.8: 0, 1, 2, 3; 1.0.9: 0, 1, 2, 3, 4" in text
    assert all(f"`{key}`" in text for key in ALL_PARAMS)
