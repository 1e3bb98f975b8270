"""The forward group on a fake clock: keys chosen by msg.topic, at once or every interval."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowengine.clock import FakeClock
from flowengine.config import DeviceConfig
from flowengine.testing import FlowHarness
from nodes.flexapi.forward_config import FORWARD, parse_forward

TOPIC = "fleet/v1/dev1/forward/info"


@pytest.fixture
def forward(tmp_path: Path) -> Iterator[Any]:
    made: list[FlowHarness] = []

    def build(**settings: Any) -> FlowHarness:
        state = tmp_path / f"state{len(made)}"
        if settings:
            FORWARD.save(state, parse_forward(settings))
        device = DeviceConfig.model_validate({"mqtt": {"client_id": "dev1", "topic_prefix": "fleet"}})
        h = FlowHarness(state_dir=state, device=device, clock=FakeClock())
        made.append(h)
        h.deploy(
            [
                {"id": "forward", "type": "flexapi forward", "wires": [["out"]]},
                {"id": "out", "type": "helper"},
                {"id": "catch", "type": "catch", "scope": ["forward"], "wires": [["errors"]]},
                {"id": "errors", "type": "helper"},
            ],
            tmp_path,
        )
        return h

    yield build
    for h in made:
        h.close()


def published(h: FlowHarness) -> list[Any]:
    taken = h.taken("out")
    assert all(m["topic"] == TOPIC for m in taken)
    return [m["payload"] for m in taken]


def test_each_message_goes_out_at_once_under_the_key_its_topic_picks(forward: Any) -> None:
    h = forward()
    h.inject("forward", topic="sensors/temp", payload={"t": 21.5})
    h.inject("forward", topic="forward/bt", payload="beacon 7")
    h.inject("forward", topic="CAN", payload=[1, 2, 3])
    h.inject("forward", topic="obdcan", payload=b'{"pid": 12}')
    h.inject("forward", topic="forward.payload_can", payload=5)
    h.inject("forward", payload="no topic")
    assert published(h) == [
        {"forward.payload": {"t": 21.5}},
        {"forward.payload_bt": "beacon 7"},
        {"forward.payload_can": [1, 2, 3]},
        {"forward.payload_obdcan": '{"pid": 12}'},
        {"forward.payload_can": 5},
        {"forward.payload": "no topic"},
    ]


def test_with_an_interval_what_arrived_in_between_goes_out_together(forward: Any) -> None:
    h = forward(interval=10)
    h.inject("forward", topic="app", payload=1)
    h.advance(3)
    h.inject("forward", topic="bt", payload="a")
    h.inject("forward", topic="app", payload=2)
    h.advance(6.75)
    assert published(h) == []
    h.advance(0.25)
    assert published(h) == [{"forward.payload": [1, 2], "forward.payload_bt": ["a"]}]
    h.advance(10)
    assert published(h) == []  # nothing arrived: nothing sent
    h.inject("forward", topic="can", payload={"id": 291})
    h.advance(10)
    assert published(h) == [{"forward.payload_can": [{"id": 291}]}]


def test_the_interest_picks_and_renames_keys(forward: Any) -> None:
    h = forward(interest={"forward.payload": "", "forward.payload_bt": "ble"})
    h.inject("forward", topic="bt", payload="x")
    h.inject("forward", topic="can", payload="dropped")
    h.inject("forward", topic="", payload="y")
    assert published(h) == [{"ble": "x"}, {"forward.payload": "y"}]


def test_binary_that_is_not_text_is_an_error(forward: Any) -> None:
    h = forward()
    h.inject("forward", topic="app", payload=b"\xff\x00")
    assert "binary" in h.one("errors")["error"]["message"]
    assert published(h) == []
