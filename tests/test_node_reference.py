"""The committed node reference is what the node classes generate, and every type is documented."""

from __future__ import annotations

from pathlib import Path

from flowengine.nodedoc import node_reference
from flowengine.registry import NodeTypeRegistry

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "node-reference.md"


def test_committed_reference_is_current() -> None:
    assert REFERENCE.read_text() == node_reference(), "regenerate: flowengine nodes --markdown > docs/node-reference.md"


def test_every_type_has_a_description_and_loads() -> None:
    registry = NodeTypeRegistry()
    for name in registry:
        cls = registry.get(name)
        assert cls.__dict__.get("__doc__") or cls.__module__, name
        assert f"## `{name}`" in REFERENCE.read_text()


def test_the_listing_groups_types_by_package_with_whole_first_sentences() -> None:
    from flowengine.nodedoc import first_sentence, node_summary

    text = node_summary()
    assert (
        text.index("Node-RED's core node types") < text.index("FlexAPI device agent") < text.index("Hardware sources")
    )
    assert "``" not in text and ":class:" not in text
    assert first_sentence("``gnss source``: NMEA from a receiver, e.g. a u-blox. More text.") == (
        "NMEA from a receiver, e.g. a u-blox."
    )
    assert first_sentence("Uses :class:`~flowengine.mqtt.MqttLink` for\n   its connection. Then") == (
        "Uses flowengine.mqtt.MqttLink for its connection."
    )
