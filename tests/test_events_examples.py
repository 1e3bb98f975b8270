"""The example flows of the event service and the forward group do what their notes say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import paho.mqtt.publish as publish
import pytest

from flowengine.clock import FakeClock
from flowengine.config import DeviceConfig
from flowengine.testing import FlowHarness, Mosquitto, wait_until

EXAMPLES = Path(__file__).resolve().parents[1] / "flows" / "examples"
DEVICE = DeviceConfig.model_validate({"mqtt": {"client_id": "VG1"}})


def example(name: str) -> list[dict[str, Any]]:
    return json.loads((EXAMPLES / name).read_text())  # type: ignore[no-any-return]


def test_user_event_example_raises_and_clears_door_open(tmp_path: Path) -> None:
    agent_part = [
        {"id": "flexapi-values", "type": "flexapi values", "wires": [["flexapi-event"]]},
        {"id": "flexapi-event", "type": "flexapi event", "wires": [["out"]]},
        {"id": "out", "type": "helper"},
    ]
    with FlowHarness(state_dir=tmp_path / "state", device=DEVICE, clock=FakeClock(wall_start=1000)) as h:
        h.deploy([*agent_part, *example("flexapi-user-event.json")], tmp_path)
        h.inject("flexapi-values", topic="io", payload={"gnss.latitude": 48.1, "io.DI3": 0, "io.DI1": 1})
        h.inject("flexapi-values", topic="io", payload={"io.DI3": 1})
        h.advance(30)
        h.inject("flexapi-values", topic="io", payload={"io.DI3": 0})
        notices = [m["payload"] for m in h.taken("out")]
    assert notices == [
        {
            "starts_at": 1000,
            "status": "raise",
            "type": "DOOR_OPEN",
            "level": 2,
            "door": "rear",
            "gnss.latitude": 48.1,
            "io.DI3": 1,
        },
        {
            "starts_at": 1000,
            "ends_at": 1030,
            "status": "clear",
            "type": "DOOR_OPEN",
            "level": 2,
            "door": "rear",
            "gnss.latitude": 48.1,
            "io.DI3": 0,
        },
    ]


def probe(h: FlowHarness, broker: Mosquitto) -> bool:
    """Publish a probe; True once one came through (anything that arrived is taken)."""
    publish.single("forward/probe", "probe", qos=1, hostname="127.0.0.1", port=broker.port)
    return not h.nothing("out", within=0.2) and (h.taken("out") or True)


@pytest.mark.broker
def test_forward_example_hands_local_app_data_to_the_forward_group(broker: Mosquitto, tmp_path: Path) -> None:
    nodes = example("flexapi-forward-local-app.json")
    for node in nodes:
        if node["type"] == "mqtt-broker":  # the device's local broker: here the test's
            node.update(port=broker.port, clientid="")
    forward = {"id": "flexapi-forward", "type": "flexapi forward", "wires": [["out"]]}
    with FlowHarness(state_dir=tmp_path / "state", device=DEVICE) as h:
        h.deploy([forward, {"id": "out", "type": "helper"}, *nodes], tmp_path)
        wait_until(lambda: probe(h, broker), 10, interval=0.2, what="mqtt in subscribed")
        sent = [("forward/bt", '{"mac": "c4:7c", "rssi": -70}'), ("forward/can", "0x18FEF100 ff"), ("forward/x", "7")]
        for topic, text in sent:
            publish.single(topic, text, qos=1, hostname="127.0.0.1", port=broker.port)
        got: list[Any] = []
        while len(got) < len(sent):
            payload = h.one("out")["payload"]
            got += [] if payload == {"forward.payload": "probe"} else [payload]  # a late probe
    assert got == [
        {"forward.payload_bt": {"mac": "c4:7c", "rssi": -70}},
        {"forward.payload_can": "0x18FEF100 ff"},
        {"forward.payload": 7},
    ]
