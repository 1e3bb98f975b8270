"""Graph checks: every problem is reported at once, with file, node id and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowengine.errors import FlowConfigError
from flowengine.flowfile import load_flows
from flowengine.graph import build_graph
from flowengine.picture import describe, to_dot
from flowengine.registry import NodeTypeRegistry
from flowengine.testing import HelperNode


@pytest.fixture
def registry() -> NodeTypeRegistry:
    reg = NodeTypeRegistry()
    reg.register("helper", HelperNode)
    return reg


def write(path: Path, nodes: object) -> Path:
    path.write_text(json.dumps(nodes))
    return path


def problems_of(paths: list[Path], registry: NodeTypeRegistry) -> list[str]:
    with pytest.raises(FlowConfigError) as info:
        build_graph(load_flows(paths), registry)
    return [str(p) for p in info.value.problems]


def test_all_problems_reported_together(tmp_path: Path, registry: NodeTypeRegistry) -> None:
    a = write(
        tmp_path / "a.json",
        [
            {"id": "t1", "type": "tab", "label": "Flow 1"},
            {"id": "n1", "type": "no-such-type", "z": "t1", "wires": []},
            {"id": "n2", "type": "inject", "z": "t1", "repeat": "often", "wires": [["ghost"]]},
            {"id": "n3", "type": "inject", "z": "t1", "wires": [["h1"], ["h1"]]},
            {"id": "h1", "type": "helper", "z": "t1", "wires": []},
        ],
    )
    b = write(tmp_path / "b.json", [{"id": "h1", "type": "helper", "wires": []}, {"type": "helper"}])
    found = problems_of([a, b], registry)
    joined = "\n".join(found)
    assert f"{a}: node n1: type: unknown node type 'no-such-type'" in joined
    assert f"{a}: node n2: repeat:" in joined
    assert f"{a}: node n3: wires[1]: output port 1 out of range (node has 1)" in joined
    assert f"{b}: node h1: id: duplicate id" in joined
    assert f"{b}: missing or empty 'id'" in joined
    assert len(found) == 5


def test_wire_to_missing_node_named(tmp_path: Path, registry: NodeTypeRegistry) -> None:
    f = write(tmp_path / "f.json", [{"id": "h1", "type": "helper", "wires": [["nowhere"]]}])
    assert problems_of([f], registry) == [f"{f}: node h1: wires[0]: wired to missing node 'nowhere'"]


def test_bad_json_and_non_array(tmp_path: Path, registry: NodeTypeRegistry) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    obj = write(tmp_path / "obj.json", {"id": "x"})
    found = problems_of([bad, obj], registry)
    assert any("bad.json: not valid JSON" in p for p in found)
    assert any("obj.json: a flow file must be a JSON array" in p for p in found)


def test_env_substitution_reads_only_the_given_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWTEST_SECRET", "leaked")
    topic = "say/${GREETING}/${UNSET_VAR_X}${FLOWTEST_SECRET}"
    f = write(tmp_path / "f.json", [{"id": "i", "type": "inject", "topic": topic, "wires": []}])
    assert load_flows([f], {"GREETING": "hi"}).nodes["i"].raw["topic"] == "say/hi/"
    assert load_flows([f]).nodes["i"].raw["topic"] == "say//"


def test_layout_objects_do_not_run(tmp_path: Path, registry: NodeTypeRegistry) -> None:
    f = write(
        tmp_path / "f.json",
        [
            {"id": "t", "type": "tab"},
            {"id": "c", "type": "comment", "z": "t", "info": "notes"},
            {"id": "g", "type": "group", "z": "t", "nodes": ["h"]},
            {"id": "h", "type": "helper", "z": "t", "g": "g", "wires": []},
        ],
    )
    graph = build_graph(load_flows([f]), registry)
    assert list(graph.specs) == ["h"]


def test_the_text_picture_follows_flows_and_wiring_with_names(tmp_path: Path, registry: NodeTypeRegistry) -> None:
    f = write(
        tmp_path / "f.json",
        [
            {"id": "t2", "type": "tab", "label": "Alarms"},
            {"id": "t1", "type": "tab", "label": "Readings"},
            {"id": "sink", "type": "helper", "z": "t1", "wires": []},
            {"id": "check", "type": "switch", "z": "t1", "name": "hot?", "rules": [{"t": "gt", "v": "30", "vt": "num"},
             {"t": "else"}], "outputs": 2, "wires": [["sink"], []]},
            {"id": "tick", "type": "inject", "z": "t1", "name": "every 5 s", "repeat": "5", "wires": [["check"]]},
            {"id": "alarm", "type": "helper", "z": "t2", "wires": []},
        ],
    )  # fmt: skip
    text = "\n".join(describe(build_graph(load_flows([f]), registry)))
    assert text == "\n".join(
        [
            f"flow Alarms [t2] in {f}",
            "  helper [alarm]",
            f"flow Readings [t1] in {f}",
            '  inject "every 5 s" [tick]',
            '      -> switch "hot?" [check]',
            '  switch "hot?" [check]',
            "      [0] -> helper [sink]",
            "  helper [sink]",
        ]
    )


def test_dot_draws_flows_as_clusters_names_with_types_and_references_dashed(
    tmp_path: Path, registry: NodeTypeRegistry
) -> None:
    f = write(
        tmp_path / "f.json",
        [
            {"id": "t1", "type": "tab", "label": "Link"},
            {"id": "b", "type": "mqtt-broker", "broker": "localhost"},
            {"id": "in", "type": "mqtt in", "z": "t1", "name": "door", "topic": "door/#", "broker": "b", "wires": [["h"]]},
            {"id": "h", "type": "helper", "z": "t1", "wires": []},
        ],
    )  # fmt: skip
    dot = to_dot(build_graph(load_flows([f]), registry))
    assert 'label="Link";' in dot and 'label="outside any flow";' in dot
    assert '"in" [label="door\\nmqtt in"];' in dot
    assert '"in" -> "h";' in dot
    assert '"in" -> "b" [style=dashed, label="uses"];' in dot


def test_an_unknown_property_is_a_problem_with_a_suggestion(tmp_path: Path, registry: NodeTypeRegistry) -> None:
    f = write(
        tmp_path / "f.json", [{"id": "i", "type": "inject", "repaet": "5", "notes": "x", "info": "ok", "wires": []}]
    )
    found = problems_of([f], registry)
    assert f"{f}: node i: repaet: unknown property of a 'inject' node; did you mean 'repeat'?" in found
    assert f"{f}: node i: notes: unknown property of a 'inject' node" in found
    assert not any(": info:" in p for p in found)  # editor notes are no behaviour


def test_problems_come_by_file_then_in_the_order_of_the_flow(tmp_path: Path, registry: NodeTypeRegistry) -> None:
    a = write(
        tmp_path / "a.json",
        [
            {"id": "zz", "type": "inject", "repeat": "often", "wires": []},
            {"id": "aa", "type": "mystery", "wires": []},
        ],
    )
    b = write(tmp_path / "b.json", [{"id": "mm", "type": "inject", "repaet": "1", "wires": []}])
    found = problems_of([a, b], registry)
    assert [p.split(": ")[1] for p in found] == ["node zz", "node aa", "node mm"]
