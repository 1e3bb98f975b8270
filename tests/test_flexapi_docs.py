"""The committed topic reference is exactly what the generator makes from the code's tables."""

from __future__ import annotations

from pathlib import Path

from nodes.flexapi.docgen import generate
from nodes.flexapi.groups import GROUPS
from nodes.flexapi.params import PARAMS

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
