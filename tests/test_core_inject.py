"""inject: legacy and props forms, typed values, once/repeat/crontab, input triggers it."""

from __future__ import annotations

from datetime import datetime

import pytest

from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness
from nodes.core.cron import Cron


def node(node_id: str, node_type: str, wires: list[list[str]] | None = None, **props: object) -> dict[str, object]:
    return {"id": node_id, "type": node_type, "z": "t1", "wires": wires or [], **props}


def sink(node_id: str = "out") -> dict[str, object]:
    return node(node_id, "helper")


def test_legacy_payload_and_topic(harness: FlowHarness) -> None:
    harness.deploy([node("i", "inject", [["out"]], payload="42", payloadType="num", topic="t"), sink()])
    harness.inject("i", payload=None)
    msg = harness.one("out")
    assert msg["payload"] == 42
    assert msg["topic"] == "t"


def test_default_payload_is_timestamp_in_ms(harness: FlowHarness) -> None:
    harness.deploy([node("i", "inject", [["out"]]), sink()])
    before = datetime.now().timestamp() * 1000
    harness.inject("i")
    assert harness.one("out")["payload"] >= int(before)


def test_props_use_legacy_fields_when_value_missing(harness: FlowHarness) -> None:
    props = [{"p": "payload"}, {"p": "topic", "vt": "str"}, {"p": "a.b", "v": '{"x":[1,2]}', "vt": "json"}]
    harness.deploy(
        [node("i", "inject", [["out"]], props=props, payload="true", payloadType="bool", topic="tt"), sink()]
    )
    harness.inject("i")
    msg = harness.one("out")
    assert msg["payload"] is True
    assert msg["topic"] == "tt"
    assert msg["a"] == {"b": {"x": [1, 2]}}


def test_props_read_env_flow_and_global(harness: FlowHarness) -> None:
    harness.runtime.env = {"FLOWTEST_VALUE": "from-env"}
    props = [
        {"p": "payload", "v": "FLOWTEST_VALUE", "vt": "env"},
        {"p": "f", "v": "count", "vt": "flow"},
        {"p": "g", "v": "#:(memory)::site", "vt": "global"},
    ]
    harness.deploy([node("i", "inject", [["out"]], props=props), sink()])
    inject_node = harness.node("i")
    inject_node.context("flow").set("count", 3)
    inject_node.context("global").set("site", "north")
    harness.inject("i")
    msg = harness.one("out")
    assert (msg["payload"], msg["f"], msg["g"]) == ("from-env", 3, "north")


def test_msg_typed_prop_reads_the_triggering_message(harness: FlowHarness) -> None:
    props = [{"p": "payload", "v": "payload.level", "vt": "msg"}]
    harness.deploy([node("i", "inject", [["out"]], props=props), sink()])
    harness.inject("i", payload={"level": 7})
    msg = harness.one("out")
    assert msg["payload"] == 7
    assert "level" not in msg  # a new message, not the incoming one


def test_once_fires_after_deploy(harness: FlowHarness) -> None:
    harness.deploy(
        [node("i", "inject", [["out"]], once=True, onceDelay="0.05", payload="hi", payloadType="str"), sink()]
    )
    assert harness.one("out")["payload"] == "hi"
    assert harness.nothing("out", within=0.3)


def test_repeat_sends_repeatedly_until_undeployed(harness: FlowHarness) -> None:
    harness.deploy([node("i", "inject", [["out"]], repeat="0.05", payload="r", payloadType="str"), sink()])
    assert [m["payload"] for m in harness.received("out", 3)] == ["r", "r", "r"]
    harness.deploy([sink()])
    while not harness.nothing("out", within=0.2):
        pass  # drain what was already in flight
    assert harness.nothing("out", within=0.3)


@pytest.mark.parametrize(
    ("props", "field"),
    [
        ({"payloadType": "jsonata", "payload": "$now() +"}, "payload"),
        ({"payloadType": "num", "payload": "ten"}, "payload"),
        ({"props": [{"p": "payload", "v": "{bad", "vt": "json"}]}, "props.0.v"),
        ({"repeat": -1}, "repeat"),
        ({"crontab": "61 * * * *"}, "crontab"),
    ],
)
def test_bad_config_is_reported_with_node_and_field(harness: FlowHarness, props: dict, field: str) -> None:
    with pytest.raises(FlowConfigError) as info:
        harness.deploy([node("bad", "inject", [], **props)])
    problem = info.value.problems[0]
    assert (problem.node_id, problem.field) == ("bad", field)


def test_cron_next_times() -> None:
    every_5 = Cron.parse("*/5 * * * *")
    assert every_5.next_after(datetime(2024, 1, 1, 10, 2, 30)) == datetime(2024, 1, 1, 10, 5)
    weekdays_noon = Cron.parse("0 12 * * 1-5")
    assert weekdays_noon.next_after(datetime(2024, 1, 5, 12, 0)) == datetime(2024, 1, 8, 12, 0)  # Fri -> Mon
    between = Cron.parse("*/30 8-9 * * *")
    assert between.next_after(datetime(2024, 1, 1, 9, 45)) == datetime(2024, 1, 2, 8, 0)
    assert Cron.parse("0 0 29 2 *").next_after(datetime(2023, 1, 1)) == datetime(2024, 2, 29)


@pytest.mark.parametrize("text", ["* * * *", "60 * * * *", "a * * * *", "0 0 31 2 *", "*/0 * * * *"])
def test_cron_rejects_bad_schedules(text: str) -> None:
    with pytest.raises(ValueError, match="crontab"):
        Cron.parse(text)


def test_repeat_sends_on_a_fixed_grid_of_the_fake_clock(fake: FlowHarness) -> None:
    fake.deploy(
        [
            {"id": "i", "type": "inject", "repeat": "2", "payloadType": "date", "wires": [["out"]]},
            {"id": "out", "type": "helper", "wires": []},
        ]
    )
    fake.advance(1.999)
    assert fake.taken("out") == []
    sent = []
    for _ in range(3):
        fake.advance(2.0)
        sent.append(len(fake.taken("out")))
    assert sent == [1, 1, 1]


def test_env_reads_the_tab_env_first_then_only_the_allowed_environment(
    harness: FlowHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWTEST_SECRET", "leaked")
    harness.runtime.env = {"SITE": "north"}
    tab_env = [{"name": "LIMIT", "value": "120", "type": "num"}, {"name": "ON", "value": "true", "type": "bool"}]
    props = [
        {"p": "payload", "v": "LIMIT", "vt": "env"},
        {"p": "on", "v": "ON", "vt": "env"},
        {"p": "site", "v": "SITE", "vt": "env"},
        {"p": "secret", "v": "FLOWTEST_SECRET", "vt": "env"},
    ]
    harness.deploy(
        [{"id": "t1", "type": "tab", "env": tab_env}, node("i", "inject", [["out"]], props=props, z="t1"), sink()]
    )
    harness.inject("i")
    msg = harness.one("out")
    assert (msg["payload"], msg["on"], msg["site"], msg["secret"]) == (120, True, "north", "")
