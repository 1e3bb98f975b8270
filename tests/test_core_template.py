"""template: mustache as Node-RED renders it (golden data from mustache.js), context, env, output formats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness
from nodes.core import mustache

#: Made by rendering each template and view with the mustache.js 4.2 that Node-RED 4 ships.
GOLDEN = json.loads((Path(__file__).parent / "data" / "mustache_golden.json").read_text())


def plain_lookup(name: str, stack: list[Any]) -> Any:
    found = mustache.lookup_in(name, stack)
    return None if found is mustache.NOT_FOUND else found


@pytest.mark.parametrize("case", GOLDEN, ids=[c["template"][:30] for c in GOLDEN])
def test_renders_as_mustache_js(case: dict[str, Any]) -> None:
    assert mustache.render(mustache.parse(case["template"]), plain_lookup, [case["view"]]) == case["output"]


@pytest.mark.parametrize("bad", ["{{#a}}open", "{{/a}}", "{{unclosed", "{{#a}}{{/b}}"])
def test_bad_templates_are_config_errors(harness: FlowHarness, bad: str) -> None:
    with pytest.raises(FlowConfigError) as info:
        harness.deploy([template_node(template=bad)])
    assert info.value.problems[0].field == "template"


def template_node(**props: Any) -> dict[str, Any]:
    return {"id": "t", "type": "template", "z": "tab", "wires": [["out"]], **props}


def flow(**props: Any) -> list[dict[str, Any]]:
    return [template_node(**props), {"id": "out", "type": "helper", "z": "tab", "wires": []}]


def test_message_then_env_then_context_else_empty(fake: FlowHarness) -> None:
    tab = {"id": "tab", "type": "tab", "env": [{"name": "SITE", "value": "north", "type": "str"}]}
    fake.deploy([tab, *flow(template="{{payload}} {{env.SITE}} {{flow.room.name}} {{global.g}} [{{nothing}}]")])
    fake.node("t").context("flow").set("room", {"name": "hall"})
    fake.node("t").context("global").set("g", 2.0)
    fake.inject("t", payload=1.0)
    assert fake.taken("out")[0]["payload"] == "1 north hall 2 []"


def test_message_wins_over_context_of_the_same_name(fake: FlowHarness) -> None:
    fake.deploy(flow(template="{{flow.x}}"))
    fake.node("t").context("flow").set("x", "context")
    fake.inject("t", flow={"x": "message"})
    assert fake.taken("out")[0]["payload"] == "message"


def test_json_output_escapes_strings_and_parses(fake: FlowHarness) -> None:
    fake.deploy(flow(template='{"text": "{{{payload}}}", "n": {{n}}}', output="json"))
    fake.inject("t", payload="two\nlines\tq", n=3)
    assert fake.taken("out")[0]["payload"] == {"text": "two\nlines\tq", "n": 3}


def test_bad_json_output_is_an_error(fake: FlowHarness) -> None:
    catch = {"id": "c", "type": "catch", "z": "tab", "wires": [["err"]]}
    fake.deploy([*flow(template="{{payload}}", output="json"), catch, {"id": "err", "type": "helper", "z": "tab"}])
    fake.inject("t", payload="not json")
    assert "not valid JSON" in fake.taken("err")[0]["error"]["message"]
    assert fake.taken("out") == []


def test_yaml_output_reads_yaml_1_2_booleans(fake: FlowHarness) -> None:
    fake.deploy(flow(template="a: yes\nb: true\nc: [1, 2]\n", output="yaml", field="cfg"))
    fake.inject("t", payload=None)
    assert fake.taken("out")[0]["cfg"] == {"a": "yes", "b": True, "c": [1, 2]}


def test_plain_syntax_and_msg_template(fake: FlowHarness) -> None:
    fake.deploy(flow(template="", syntax="mustache"))
    fake.inject("t", payload="p", template="from msg {{payload}}")
    fake.deploy(flow(template="{{payload}} as is", syntax="plain"))
    fake.inject("t", payload="p")
    assert [m["payload"] for m in fake.taken("out")] == ["from msg p", "{{payload}} as is"]


def test_result_into_flow_context(fake: FlowHarness) -> None:
    fake.deploy(flow(template="last={{payload}}", field="#:(memory)::last", fieldType="flow"))
    fake.inject("t", payload=4)
    assert fake.node("t").context("flow").get("last") == "last=4"
    assert fake.taken("out")[0]["payload"] == 4
