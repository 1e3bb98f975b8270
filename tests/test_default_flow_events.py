"""The default flow's event detectors, reporting stage and forward group: drawn in the graph, wired, working."""

from __future__ import annotations

import json
import re
from pathlib import Path

from test_flexapi_nodes import Agent, start_agent

from flowengine.config import DeviceConfig
from flowengine.flowfile import load_flows
from flowengine.graph import build_graph
from flowengine.picture import describe
from flowengine.registry import NodeTypeRegistry
from nodes.flexapi.event_config import EVENTS, parse_events

DEFAULT_FLOW = Path(__file__).resolve().parents[1] / "flows" / "default.json"
DETECTORS = {
    "detector-di": "flexapi di detector",
    "detector-ignition": "flexapi ignition detector",
    "detector-overspeed": "flexapi overspeed detector",
    "detector-idle": "flexapi idle detector",
    "detector-harsh-acceleration": "flexapi motion detector",
    "detector-harsh-braking": "flexapi motion detector",
    "detector-collision": "flexapi motion detector",
    "detector-dtc": "flexapi dtc detector",
}


def drawn() -> dict[str, list[str]]:
    """What ``flowengine graph`` draws: each node's "type [id]" -> its edges as "[port] -> id"."""
    graph = build_graph(load_flows([DEFAULT_FLOW]), NodeTypeRegistry())
    blocks: dict[str, list[str]] = {}
    edges: list[str] = []
    for line in describe(graph):
        if edge := re.fullmatch(r"\s+(?:\[(\d+)\] )?-> .*\[(.+)\]", line):
            edges.append(f"[{edge[1] or 0}] -> {edge[2]}")
        elif node := re.fullmatch(r"  (.+?) (?:\".*\" )?\[(.+)\]", line):
            edges = blocks[f"{node[1]} [{node[2]}]"] = []
    return blocks


def test_the_graph_shows_every_detector_and_the_reporting_stage() -> None:
    blocks = drawn()
    for node_id, node_type in DETECTORS.items():
        assert blocks[f"{node_type} [{node_id}]"] == ["[0] -> flexapi-event"]
    assert blocks["flexapi group [group-summary]"] == ["[0] -> flexapi-request", "[1] -> flexapi-report"]
    assert blocks["flexapi report [flexapi-report]"] == ["[0] -> flexapi-out", "[1] -> group-summary"]
    assert blocks["flexapi event [flexapi-event]"] == ["[0] -> flexapi-out"]
    assert blocks["flexapi forward [flexapi-forward]"] == ["[0] -> flexapi-out"]
    fed = blocks["flexapi values [flexapi-values]"]
    for target in ("flexapi-report", "flexapi-event", "detector-di"):
        assert f"[0] -> {target}" in fed


def test_detectors_take_the_samples_and_trouble_code_outputs_once_the_sources_have_them() -> None:
    """The motion detectors need the motion source's samples output and the DTC detector the obd
    source's trouble code output (output 1 of each, being added to the sources); until a source has
    that output they are wired to its output 0. When it lands, this test asks for the move."""
    nodes = {n["id"]: n for n in json.loads(DEFAULT_FLOW.read_text())}
    registry = NodeTypeRegistry()
    wanted = {
        "source-motion": [i for i in DETECTORS if "harsh" in i or "collision" in i],
        "source-obd": ["detector-dtc"],
    }
    for source, detectors in wanted.items():
        cls = registry.get(nodes[source]["type"])
        port = 1 if cls.output_count(cls.Config.model_validate(nodes[source])) > 1 else 0
        wires = nodes[source]["wires"]
        assert all(d in wires[port] for d in detectors), f"{source}: wire {detectors} from output {port}"
        assert not any(d in wires[other] for other in range(len(wires)) if other != port for d in detectors)


def test_default_flow_raises_events_and_forwards_data(tmp_path: Path) -> None:
    state = tmp_path / "state"
    EVENTS.save(state, parse_events({"DI_CHG": {"enabled": True}, "OVERSPEED": {"enabled": True, "duration": 2}}))
    device = DeviceConfig.model_validate({"mqtt": {"client_id": "dev1"}})
    with start_agent(state, device) as h:
        agent = Agent(h)
        agent.feed({"gnss.latitude": 48.1, "gnss.speed": 80.0, "io.DI2": 0})
        agent.feed({"io.DI2": 1, "gnss.speed": 120.0})
        h.advance(2)
        h.inject("flexapi-forward", topic="bt", payload={"rssi": -70})
        out = [(m["topic"], m["payload"]) for m in h.taken("flexapi-out")]
    notices = [p for t, p in out if t == "v1/dev1/event/notice"]
    assert [(n["type"], n.get("key")) for n in notices] == [("DI_CHG", "io.DI2"), ("OVERSPEED", None)]
    assert notices[1]["gnss.speed"] == 120.0 and notices[0]["io.DI2"] == 1
    assert ("v1/dev1/forward/info", {"forward.payload_bt": {"rssi": -70}}) in out
