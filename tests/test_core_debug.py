"""debug: logs payload, a property or the whole message; can show a status."""

from __future__ import annotations

import logging

import pytest

from flowengine.testing import FlowHarness, wait_until


def debug(node_id: str = "d", **props: object) -> dict[str, object]:
    return {"id": node_id, "type": "debug", "z": "t1", "wires": [], **props}


def status_sink() -> list[dict[str, object]]:
    return [
        {"id": "st", "type": "status", "z": "t1", "scope": ["d"], "wires": [["out"]]},
        {"id": "out", "type": "helper", "z": "t1", "wires": []},
    ]


def logged(caplog: pytest.LogCaptureFixture, node_id: str = "d") -> list[str]:
    return [r.getMessage() for r in caplog.records if f"debug:{node_id}]" in r.getMessage()]


def test_logs_payload_as_json(harness: FlowHarness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="flowengine.node.debug")
    harness.deploy([debug()])
    harness.inject("d", payload={"a": 1}, topic="t")
    lines = wait_until(lambda: logged(caplog), what="debug output")
    assert lines[0].endswith('{"a": 1}')


@pytest.mark.parametrize(
    ("complete", "expected"), [("true", '"topic": "t"'), (True, '"topic": "t"'), ("topic", '"t"'), ("false", "5")]
)
def test_complete_selects_what_is_logged(
    harness: FlowHarness, caplog: pytest.LogCaptureFixture, complete: object, expected: str
) -> None:
    caplog.set_level(logging.INFO, logger="flowengine.node.debug")
    harness.deploy([debug(complete=complete)])
    harness.inject("d", payload=5, topic="t")
    line = wait_until(lambda: logged(caplog), what="debug output")[0]
    assert expected in line


def test_inactive_logs_nothing(harness: FlowHarness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="flowengine.node.debug")
    harness.deploy([debug("quiet", active=False), debug("loud")])
    harness.inject("quiet", payload=1)
    harness.inject("loud", payload=2)
    wait_until(lambda: logged(caplog, "loud"), what="debug output")
    assert logged(caplog, "quiet") == []


def test_tostatus_counter_reaches_status_nodes(harness: FlowHarness) -> None:
    harness.deploy([debug(tostatus=True, statusType="counter"), *status_sink()])
    for i in range(3):
        harness.inject("d", payload=i)
    texts = [m["status"]["text"] for m in harness.received("out", 3)]
    assert texts == ["1", "2", "3"]


def test_tostatus_auto_shows_value_cut_to_32_chars(harness: FlowHarness) -> None:
    harness.deploy([debug(tostatus=True), *status_sink()])
    harness.inject("d", payload="x" * 40)
    status = harness.one("out")["status"]
    assert status["text"] == "x" * 32 + "..."
    assert status["source"]["id"] == "d"
