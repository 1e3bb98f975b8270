"""``flexapi values`` (the latest values every group is fed from) and ``flexapi filter`` (watched keys for user flows)."""

from __future__ import annotations

import pytest

from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness


def flow(**filter_props: object) -> list[dict[str, object]]:
    return [
        {"id": "values", "type": "flexapi values", "wires": []},
        {"id": "watch", "type": "flexapi filter", "wiredFrom": ["values"], "wires": [["sink"]], **filter_props},
        {"id": "sink", "type": "helper", "wires": []},
    ]


def test_values_sends_only_what_changed_with_its_type(harness: FlowHarness) -> None:
    harness.deploy([{"id": "values", "type": "flexapi values", "wires": [["sink"]]}, {"id": "sink", "type": "helper"}])
    harness.inject("values", topic="obd", payload={"obd.speed": 50, "obd.rpm": 2000.5})
    assert harness.one("sink")["payload"] == {"obd.speed": 50, "obd.rpm": 2000.5}
    harness.inject("values", topic="obd", payload={"obd.speed": 50, "obd.rpm": 2100.0})
    assert harness.one("sink")["payload"] == {"obd.rpm": 2100.0}
    harness.inject("values", topic="obd", payload={"obd.speed": 50.5, "obd.mil": True})  # obd.speed is an int; mil 0/1
    assert harness.one("sink")["payload"] == {"obd.speed": None, "obd.mil": None}


def test_values_gives_a_restarted_node_the_whole_snapshot(harness: FlowHarness) -> None:
    sink = {"id": "late", "type": "helper", "wiredFrom": ["values"]}
    harness.deploy([{"id": "values", "type": "flexapi values", "wires": []}])
    harness.inject("values", topic="gnss", payload={"gnss.speed": 12.5, "gnss.fix": 3})
    harness.deploy([{"id": "values", "type": "flexapi values", "wires": []}, sink])
    snapshot = harness.one("late")
    assert (snapshot["topic"], snapshot["payload"]) == ("snapshot", {"gnss.speed": 12.5, "gnss.fix": 3})


def test_filter_sends_changed_watched_keys_only(harness: FlowHarness) -> None:
    harness.deploy(flow(keys=["obd.speed", "gnss.*"]))
    harness.inject("values", topic="obd", payload={"obd.speed": 50, "obd.rpm": 2000, "obd.ts": 1})
    assert harness.one("sink")["payload"] == {"obd.speed": 50}
    harness.inject("values", topic="obd", payload={"obd.speed": 50, "obd.rpm": 2100, "obd.ts": 2})
    harness.inject("values", topic="gnss", payload={"gnss.speed": 49.5, "gnss.ts": 2})
    assert harness.one("sink")["payload"] == {"gnss.speed": 49.5, "gnss.ts": 2}
    harness.inject("values", topic="obd", payload={"obd.speed": None})
    assert harness.one("sink")["payload"] == {"obd.speed": None}


def test_filter_interval_mode_sends_all_watched(fake: FlowHarness) -> None:
    fake.deploy(flow(keys=["io.DI1", "io.AI1"], mode="interval", interval=2))
    fake.advance(2.0)
    assert fake.taken("sink") == []  # nothing is sent before there are values
    fake.inject("values", topic="io", payload={"io.DI1": 1, "io.AI1": 12.5, "io.DO1": 0})
    fake.advance(4.0)
    sent = fake.taken("sink")
    assert [m["payload"] for m in sent] == [{"io.DI1": 1, "io.AI1": 12.5}] * 2
    assert sent[0]["topic"] == "values"


@pytest.mark.parametrize(
    ("keys", "problem"),
    [([], "give at least one key"), (["obd.sped"], "did you mean 'obd.speed'"), (["gnss.nope*"], "not a FlexAPI")],
)
def test_filter_keys_must_name_parameters(harness: FlowHarness, keys: list[str], problem: str) -> None:
    with pytest.raises(FlowConfigError, match="node watch: keys") as info:
        harness.deploy(flow(keys=keys))
    assert problem in str(info.value)
