"""Differential cases: Node-RED 4 flows run on flowengine must send what real Node-RED sent.

Each case in ``tests/nodered/cases/`` is a flow exported from Node-RED with its results
ending in ``debug`` nodes, the messages to send its entry node (with their spacing), and the
recording ``scripts/record_nodered.py`` made of what real Node-RED sent to each debug node.
Here the flow runs on a fake clock, the debug nodes replaced by sinks, and what reaches
each sink must equal the recording, message for message and in order.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from nodered.kit import Case, all_cases, canonical, compared_fields, revive_buffers, same

from flowengine.clock import FakeClock
from flowengine.message import new_msg_id
from flowengine.registry import NodeTypeRegistry
from flowengine.testing import FlowHarness

CASES = all_cases()


def missing_features(case: Case) -> list[str]:
    """Features the case needs that this build lacks: node type ``function``, the ``jsonata`` module."""
    have = {
        "function": "function" in NodeTypeRegistry(),
        "jsonata": importlib.util.find_spec("nodes.core.jsonata") is not None,
    }
    return [feature for feature in case.requires if not have.get(feature, False)]


def run_case(case: Case, tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    """What reaches each debug node when ``case`` runs on flowengine (compared fields only)."""
    flow = [_as_sink(node) if node.get("type") == "debug" else node for node in case.flow]
    with FlowHarness(state_dir=tmp_path / "state", clock=FakeClock()) as harness:
        harness.deploy(flow, tmp_path)
        for step in case.inputs:
            harness.advance(step.get("after_ms", 0) / 1000)
            harness.inject(case.entry, {"_msgid": new_msg_id(), **revive_buffers(step["msg"])})
        harness.advance(case.settle_ms / 1000)
        return {d: [compared_fields(m, case.compare) for m in harness.taken(d)] for d in case.debug_ids}


def _as_sink(debug: dict[str, Any]) -> dict[str, Any]:
    return {"id": debug["id"], "type": "helper", "z": debug.get("z", ""), "name": debug.get("name", ""), "wires": []}


def test_there_are_enough_cases_and_all_are_recorded() -> None:
    assert len(CASES) >= 70
    assert [c.name for c in CASES if c.expected is None] == []


def test_node_ids_are_unique_across_cases() -> None:
    """The recorder loads every case into one Node-RED, so no two cases may share an id."""
    seen: dict[str, str] = {}
    for case in CASES:
        for node in case.flow:
            assert node["id"] not in seen, f"{case.name}: id {node['id']} also in {seen.get(node['id'])}"
            seen[node["id"]] = case.name


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_flowengine_sends_what_node_red_sent(case: Case, tmp_path: Path) -> None:
    missing = missing_features(case)
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (not in this build yet)")
    assert case.expected is not None, "not recorded: run scripts/record_nodered.py"
    actual = canonical(run_case(case, tmp_path))
    expected = canonical(case.expected["outputs"])
    assert same(actual, expected), (
        f"{case.name}: {case.description}\n"
        f"flowengine: {json.dumps(actual, indent=1, sort_keys=True)}\n"
        f"Node-RED {case.expected.get('node-red')}: {json.dumps(expected, indent=1, sort_keys=True)}"
    )
