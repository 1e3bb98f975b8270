"""Hostile user code: refused at load when it can be seen, stopped by a hard limit when it cannot,
while the agent keeps answering requests and still stops on SIGTERM."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
from agent_support import AgentProcess, Platform, RunningAgent, device

from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness, Mosquitto, wait_until

#: The probe's reproducers: each is a problem when the flow is loaded.
REFUSED = {
    "len": "len([[0]*1000000]*1000000)",
    "compare": "['a'*1000000]*500000 == ['a'*999999+'a']*500000",
    "str": "str(['a'*1000000]*1000000)",
    "sorted": "sorted([[1]*3000]*3000)",
    "max": "max([[1]*10000]*10000)",
    "chain": "'x' * 1000 * 1000 * 1000",
    "nested": "[['x'] * payload] * payload",
    "range": "len(range(10**12))",
}

#: The same class built from message data, so only a limit can stop it.
PYTHON_RUNAWAYS = {
    "str_shared": "str([msg['row']] * payload)",
    "sort_shared": "sorted([msg['row']] * payload)",
    "compare_shared": "[msg['row']] * payload == [msg['row'][:-1] + [2]] * payload",
    "max_shared": "max([msg['row'] * 300] * payload)",  # 3,000 comparisons of 900,000 items
    "string_chain": "len(msg['s'] * payload * payload)",
    "nested_comprehension": "[[x * y for x in msg['big']] for y in msg['big']]",
    "sum_product": "sum(x * y for x in msg['big'] for y in msg['big'])",
    "min_product": "min(x - y for x in msg['big'] for y in msg['big'])",
}
JSONATA_RUNAWAYS = {
    "jsonata_map": "$map([1..100000000], function($v){ $v * 2 })",
    "jsonata_sequence": "$count([1..9999999].($ * 2))",
    "jsonata_recursion": "($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(1000000))",
    "jsonata_loop": "($loop := function($i){ $i < 100000000000 ? $loop($i + 1) : $i }; $loop(0))",
    "jsonata_pad": '$length($pad("", 1000000000, "x"))',
}

#: The same classes in JavaScript (``function`` nodes, limited to 1 s each).
FUNCTION_RUNAWAYS = {
    "js_loop": "while (true) {}",
    "js_memory": "const kept = []; while (true) { kept.push(new Array(1e6).fill(msg.payload)); }",
    "js_recursion": "function down(n) { return down(n + 1) + 1; } return down(0);",
    "js_string": "let s = msg.s; while (true) { s += s; }",
}


def test_visible_runaways_are_refused_at_load_naming_node_and_field(harness: FlowHarness) -> None:
    flow = [
        {"id": name, "type": "expression", "z": "t1", "expression": source, "wires": []}
        for name, source in REFUSED.items()
    ]
    with pytest.raises(FlowConfigError) as info:
        harness.deploy(flow)
    assert {(p.node_id, p.field) for p in info.value.problems} == {(name, "expression") for name in REFUSED}


def hostile_flow(root: str, repeat: float) -> list[dict[str, Any]]:
    """An inject feeding every runaway on a timer; a catch node publishes which node failed and why."""
    props = [
        {"p": "payload", "v": "3000", "vt": "num"},
        {"p": "row", "v": json.dumps([1] * 3000), "vt": "json"},
        {"p": "s", "v": "x" * 1000, "vt": "str"},
        {"p": "big", "v": json.dumps(list(range(3000))), "vt": "json"},
    ]
    runaways = [
        {"id": name, "type": "expression", "z": "hostile", "expression": source, "wires": [[]]}
        for name, source in PYTHON_RUNAWAYS.items()
    ]
    runaways += [
        {
            "id": name,
            "type": "change",
            "z": "hostile",
            "rules": [{"t": "set", "p": "result", "to": source, "tot": "jsonata"}],
            "wires": [[]],
        }
        for name, source in JSONATA_RUNAWAYS.items()
    ]
    runaways += [
        {"id": name, "type": "function", "z": "hostile", "func": source, "timeout": 1, "wires": [[]]}
        for name, source in FUNCTION_RUNAWAYS.items()
    ]
    describe = "{'node': msg['error']['source']['id'], 'error': msg['error']['message']}"
    return [
        {"id": "hostile", "type": "tab", "label": "hostile user code"},
        {
            "id": "feed",
            "type": "inject",
            "z": "hostile",
            "props": props,
            "repeat": repeat,
            "once": True,
            "wires": [[r["id"] for r in runaways]],
        },
        *runaways,
        {"id": "catch", "type": "catch", "z": "hostile", "wires": [["describe"]]},
        {"id": "describe", "type": "expression", "z": "hostile", "expression": describe, "wires": [["report"]]},
        {"id": "report", "type": "mqtt out", "z": "hostile", "topic": f"{root}/user/errors", "wires": []},
    ]


@pytest.fixture
def hostile_agent(broker: Mosquitto, tmp_path: Path, client_id: str) -> Any:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "hostile.json").write_text(json.dumps(hostile_flow(f"v1/{client_id}", repeat=2)))
    running = RunningAgent(device(broker, tmp_path / "state", client_id), [flows])
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.broker
@pytest.mark.slow
def test_runaways_end_as_caught_errors_while_the_agent_keeps_answering(
    hostile_agent: RunningAgent, platform: Platform
) -> None:
    expected = set(PYTHON_RUNAWAYS) | set(JSONATA_RUNAWAYS) | set(FUNCTION_RUNAWAYS)
    errors: dict[str, str] = {}
    answered_meanwhile = 0
    while set(errors) != expected:
        assert platform.request("sysinfo/refresh", when_free=True).get("result") is not None
        answered_meanwhile += 1
        try:
            while True:
                report = platform.wait("user/errors", timeout=0.2)
                errors[report["node"]] = report["error"]
        except AssertionError:
            pass
        assert answered_meanwhile < 300, f"no error yet from {sorted(expected - set(errors))}"
    assert answered_meanwhile > 1
    for name in JSONATA_RUNAWAYS:
        assert errors[name].startswith("Invalid JSONata expression"), errors[name]
    assert any("time limit" in e for e in errors.values())
    assert "timed out" in errors["js_loop"] and "memory" in errors["js_memory"], errors
    assert "Maximum call stack size exceeded" in errors["js_recursion"], errors
    assert hostile_agent.runtime.nodes["feed"].last_status.get("fill") != "red"


@pytest.mark.broker
@pytest.mark.slow
def test_agent_process_stops_on_sigterm_during_a_runaway(broker: Mosquitto, tmp_path: Path, client_id: str) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "hostile.json").write_text(json.dumps(hostile_flow(f"v1/{client_id}", repeat=0.2)))
    log = tmp_path / "agent.log"
    agent = AgentProcess(broker, client_id, tmp_path / "state", log, "--flows", str(flows))
    platform = Platform(broker.port, f"v1/{client_id}")
    try:
        platform.wait_ready(timeout=30)
        wait_until(lambda: "time limit" in agent.log_text(), 30, what="a runaway being stopped")
        agent.proc.send_signal(signal.SIGTERM)
        agent.proc.wait(5)
        assert agent.proc.returncode is not None
    finally:
        platform.close()
        agent.stop()
