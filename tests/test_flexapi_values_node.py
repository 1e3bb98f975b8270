"""``flexapi values``: user flows see the device's latest values."""

from __future__ import annotations

import pytest

from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness


def flow(**values_props: object) -> list[dict[str, object]]:
    return [
        {"id": "store", "type": "flexapi store", "wires": []},
        {"id": "watch", "type": "flexapi values", "wires": [["sink"]], **values_props},
        {"id": "sink", "type": "helper", "wires": []},
    ]


def test_sends_changed_watched_keys_only(harness: FlowHarness) -> None:
    harness.deploy(flow(keys=["obd.speed", "gnss.*"]))
    harness.inject("store", topic="obd", payload={"obd.speed": 50, "obd.rpm": 2000, "obd.ts": 1})
    assert harness.one("sink")["payload"] == {"obd.speed": 50}
    harness.inject("store", topic="obd", payload={"obd.speed": 50, "obd.rpm": 2100, "obd.ts": 2})
    harness.inject("store", topic="gnss", payload={"gnss.speed": 49.5, "gnss.ts": 2})
    assert harness.one("sink")["payload"] == {"gnss.speed": 49.5, "gnss.ts": 2}
    harness.inject("store", topic="obd", payload={"obd.speed": None})
    assert harness.one("sink")["payload"] == {"obd.speed": None}


def test_interval_mode_sends_all_watched(harness: FlowHarness) -> None:
    harness.deploy(flow(keys=["io.DI1", "io.AI1"], mode="interval", interval=0.05))
    harness.inject("store", topic="io", payload={"io.DI1": 1, "io.AI1": 12.5, "io.DO1": 0})
    first, second = harness.received("sink", 2)  # nothing is sent before there are values
    assert first["payload"] == second["payload"] == {"io.DI1": 1, "io.AI1": 12.5}
    assert first["topic"] == "values"


def test_empty_keys_rejected(harness: FlowHarness) -> None:
    with pytest.raises(FlowConfigError, match="node watch: keys"):
        harness.deploy(flow(keys=[]))
