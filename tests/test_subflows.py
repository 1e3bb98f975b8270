"""Subflows: instances become real nodes in flows of their own (what Node-RED does is in the differential kit)."""

from __future__ import annotations

from typing import Any

import pytest

from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness


def definition(sf_id: str, entry: str, out: str | None = None, **extra: Any) -> dict[str, Any]:
    outputs = [{"wires": [{"id": out, "port": 0}]}] if out else []
    return {"id": sf_id, "type": "subflow", "name": sf_id, "in": [{"wires": [{"id": entry}]}], "out": outputs, **extra}


def passthrough(node_id: str, z: str, wires: list[list[str]] | None = None) -> dict[str, Any]:
    return {"id": node_id, "type": "junction", "z": z, "wires": wires or [[]]}


def test_an_instance_runs_as_nodes_of_its_own_flow(harness: FlowHarness) -> None:
    harness.deploy(
        [
            {"id": "main", "type": "tab"},
            definition("sf", "inner", "inner"),
            passthrough("inner", "sf"),
            {"id": "use", "type": "subflow:sf", "z": "main", "wires": [["out"]]},
            {"id": "out", "type": "helper", "z": "main"},
        ]
    )
    assert {"use", "use/inner", "use/out0"} <= set(harness.runtime.nodes)
    assert "inner" not in harness.runtime.nodes  # the template itself never runs
    assert harness.node("use/inner").spec.z == "use"
    harness.inject("use", payload=7)
    assert harness.one("out")["payload"] == 7


def test_the_status_output_becomes_the_instance_status_seen_by_the_parent_flow(harness: FlowHarness) -> None:
    status = {"wires": [{"id": "inner", "port": 0}]}
    harness.deploy(
        [
            {"id": "main", "type": "tab"},
            definition("sf", "inner", status=status),
            passthrough("inner", "sf"),
            {"id": "use", "type": "subflow:sf", "z": "main", "wires": []},
            {"id": "watch", "type": "status", "z": "main", "scope": ["use"], "wires": [["seen"]]},
            {"id": "seen", "type": "helper", "z": "main"},
        ]
    )
    harness.inject("use", payload="x", status={"fill": "red", "shape": "dot", "text": "sensor lost"})
    seen = harness.one("seen")["status"]
    assert (seen["text"], seen["fill"], seen["source"]["id"]) == ("sensor lost", "red", "use")


def test_a_disabled_instance_runs_none_of_its_nodes(harness: FlowHarness) -> None:
    harness.deploy(
        [definition("sf", "inner", "inner"), passthrough("inner", "sf"), {"id": "use", "type": "subflow:sf", "d": True}]
    )
    assert not any(i.startswith("use") for i in harness.runtime.nodes)


@pytest.mark.parametrize(
    ("objects", "problem"),
    [
        ([{"id": "use", "type": "subflow:nowhere"}], "node use: type: no subflow definition 'nowhere'"),
        (
            [
                definition("sf", "self"),
                {"id": "self", "type": "subflow:sf", "z": "sf"},
                {"id": "use", "type": "subflow:sf"},
            ],
            "subflows nested deeper than 16",
        ),
    ],
)
def test_broken_subflows_are_problems_naming_the_node(harness: FlowHarness, objects: list[Any], problem: str) -> None:
    with pytest.raises(FlowConfigError, match=problem):
        harness.deploy(objects)


def test_env_is_read_from_the_instance_then_the_definition_then_the_parent_flow(harness: FlowHarness) -> None:
    harness.runtime.env = {"REGION": "eu"}
    sf = definition("sf", "read", "read", env=[{"name": "UNIT", "value": "kPa", "type": "str"}])
    read = {
        "id": "read",
        "type": "change",
        "z": "sf",
        "rules": [
            {"t": "set", "p": "unit", "pt": "msg", "to": "UNIT", "tot": "env"},
            {"t": "set", "p": "site", "pt": "msg", "to": "SITE", "tot": "env"},
            {"t": "set", "p": "region", "pt": "msg", "to": "REGION", "tot": "env"},
        ],
        "wires": [[]],
    }
    harness.deploy(
        [
            {"id": "main", "type": "tab", "env": [{"name": "SITE", "value": "depot", "type": "str"}]},
            sf,
            read,
            {"id": "a", "type": "subflow:sf", "z": "main", "wires": [["out"]]},
            {
                "id": "b",
                "type": "subflow:sf",
                "z": "main",
                "env": [{"name": "UNIT", "value": "bar"}],
                "wires": [["out"]],
            },
            {"id": "out", "type": "helper", "z": "main"},
        ]
    )
    harness.inject("a", payload=1)
    harness.inject("b", payload=2)
    got = {m["payload"]: (m["unit"], m["site"], m["region"]) for m in harness.received("out", 2)}
    assert got == {1: ("kPa", "depot", "eu"), 2: ("bar", "depot", "eu")}
