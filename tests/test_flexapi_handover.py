"""Topic hand-over: a user ``mqtt in`` on the device link takes request topics the agent does not serve.

The agent then stays silent on them (no ``not_found``); taking a topic it serves is
an error of the graph, found by ``flowengine validate`` and refused at deploy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flexapi_support import ROOT, Agent, MemoryLink, agent_nodes, device_config, start_agent

from flowengine.errors import FlowConfigError
from flowengine.flowfile import load_flows
from flowengine.graph import build_graph
from flowengine.registry import NodeTypeRegistry
from flowengine.testing import FlowHarness
from nodes.flexapi.handover import filters_overlap
from nodes.flexapi.topics import request_filters

DEFAULT_FLOW = Path(__file__).resolve().parents[1] / "flows" / "default.json"


def user_in(topic: str, node_id: str = "door-in", **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "mqtt in", "topic": topic, "wires": [["door"]], **extra}


def start(tmp_path: Path, extra: list[dict[str, Any]]) -> tuple[FlowHarness, MemoryLink]:
    link = MemoryLink()
    return start_agent(tmp_path / "state", device_config(), extra, link=link), link


def answers(h: FlowHarness, topic: str) -> list[dict[str, Any]]:
    h.settle()
    return [m["payload"] for m in h.taken("flexapi-out") if m["topic"] == f"{topic}/resp"]


def test_a_taken_topic_goes_to_the_user_flow_and_the_agent_stays_silent(tmp_path: Path) -> None:
    h, link = start(tmp_path, [user_in(f"{ROOT}/door/set"), {"id": "door", "type": "helper"}])
    with h:
        topic, payload = f"{ROOT}/door/set", b'{"client_token": "d", "open": 1}'
        h.call(_deliver(link, topic, payload))
        assert h.one("door")["payload"] == payload.decode()
        h.inject("flexapi-request", topic=topic, payload=payload)
        assert answers(h, topic) == []
        h.inject("flexapi-request", topic=f"{ROOT}/door/set", payload=b"not even json")
        assert answers(h, topic) == []
        assert Agent(h).request("window/set", {"open": 1})["error"] == "not_found"  # not taken


def test_a_wildcard_takes_every_topic_it_matches_that_the_agent_does_not_serve(tmp_path: Path) -> None:
    h, _ = start(tmp_path, [user_in(f"{ROOT}/door/+"), {"id": "door", "type": "helper"}])
    with h:
        for op in ("set", "refresh"):
            h.inject("flexapi-request", topic=f"{ROOT}/door/{op}", payload=b'{"client_token": "d"}')
            assert answers(h, f"{ROOT}/door/{op}") == []
        assert "result" in Agent(h).request("app/refresh")


def test_when_the_user_flow_goes_the_agent_answers_again(tmp_path: Path) -> None:
    h, _ = start(tmp_path, [user_in(f"{ROOT}/door/set"), {"id": "door", "type": "helper"}])
    with h:
        h.deploy(agent_nodes())
        assert Agent(h).request("door/set", {"open": 1})["error"] == "not_found"


@pytest.mark.parametrize(
    "topic", [f"{ROOT}/gnss/set", f"{ROOT}/+/set", f"{ROOT}/#", f"{ROOT}/io/toggle", f"{ROOT}/sysinfo/refresh"]
)
def test_taking_a_topic_the_agent_serves_is_refused(tmp_path: Path, topic: str) -> None:
    with pytest.raises(FlowConfigError) as caught:
        start(tmp_path, [user_in(topic), {"id": "door", "type": "helper"}])
    message = str(caught.value)
    assert "node door-in: topic:" in message and "answered by the FlexAPI agent" in message


def graph_of(tmp_path: Path, nodes: list[dict[str, Any]]) -> Any:
    user = tmp_path / "user.json"
    user.write_text(json.dumps([*nodes, {"id": "door", "type": "debug"}]))
    return build_graph(load_flows([DEFAULT_FLOW, user]), NodeTypeRegistry(), device_config())


def test_the_graph_notes_each_hand_over(tmp_path: Path) -> None:
    graph = graph_of(tmp_path, [user_in(f"{ROOT}/door/set"), user_in("elsewhere/#", "other")])
    assert [(n.node_id, n.level) for n in graph.notes] == [("door-in", "info")]
    assert "leaves them to this flow" in graph.notes[0].message


def test_an_mqtt_in_on_a_broker_of_its_own_takes_nothing(tmp_path: Path) -> None:
    broker = {"id": "b", "type": "mqtt-broker", "broker": "127.0.0.1", "port": 1}
    graph = graph_of(tmp_path, [broker, user_in(f"{ROOT}/gnss/set", broker="b")])
    assert graph.notes == []


def test_filters_overlap() -> None:
    assert filters_overlap("a/+/c", "a/b/+") and filters_overlap("a/#", "a/b/c") and filters_overlap("#", "x")
    assert not filters_overlap("a/b", "a/c") and not filters_overlap("a/b/c", "a/b")
    root_filters = request_filters(ROOT)
    assert any(filters_overlap(f"{ROOT}/door/set", f) for f in root_filters)
    assert not any(filters_overlap(f"{ROOT}/door/info", f) for f in root_filters)


def flowengine(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flowengine", *args], capture_output=True, text=True, timeout=60)


def test_validate_notes_a_hand_over_and_errs_on_a_served_topic(tmp_path: Path) -> None:
    config = tmp_path / "device.toml"
    config.write_text('[mqtt]\nclient_id = "dev1"\n')
    flows = tmp_path / "flows"
    flows.mkdir()
    door = [user_in("${FLOWENGINE_TOPIC_ROOT}/door/set"), {"id": "door", "type": "debug"}]
    (flows / "door.json").write_text(json.dumps(door))
    ok = flowengine("validate", str(flows), "--config", str(config))
    assert ok.returncode == 0, ok.stderr
    assert "note: " in ok.stdout and "node door-in: topic: 'v1/dev1/door/set' takes FlexAPI request topics" in ok.stdout
    (flows / "door.json").write_text(json.dumps([user_in("v1/dev1/gnss/set"), {"id": "door", "type": "debug"}]))
    clash = flowengine("validate", str(flows), "--config", str(config))
    assert clash.returncode == 1
    assert "node door-in: topic: 'v1/dev1/gnss/set' takes v1/dev1/gnss/set, answered by the FlexAPI agent" in (
        clash.stderr
    )
    alone = flowengine("validate", "--no-default-flow", str(flows), "--config", str(config))
    assert alone.returncode == 0 and "note" not in alone.stdout


async def _deliver(link: MemoryLink, topic: str, payload: bytes) -> None:
    link.deliver(topic, payload)
