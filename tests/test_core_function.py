"""function: Node-RED's function node in JavaScript: return shapes, node API, contexts, env,
timers on the fake clock, errors shaped as Node-RED shapes them, deploy-time validation.

Expected values that Node-RED computes (error texts, Buffer results) were recorded from
Node-RED 4.1 running the same code.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness
from nodes.core import function_node

Node = dict[str, Any]


def function(func: str, outputs: Any = 1, **props: Any) -> list[Node]:
    """A function node ``f`` on tab t1, its outputs to helpers out0.., catch -> caught, status -> status."""
    ports = int(outputs) if str(outputs).isdigit() else 1
    return [
        {"id": "t1", "type": "tab", "label": "flow 1"},
        {"id": "f", "type": "function", "z": "t1", "func": func, "outputs": outputs, **props,
         "wires": [[f"out{n}"] for n in range(ports)]},
        *({"id": f"out{n}", "type": "helper", "z": "t1", "wires": []} for n in range(ports)),
        {"id": "c", "type": "catch", "z": "t1", "wires": [["caught"]]},
        {"id": "s", "type": "status", "z": "t1", "scope": ["f"], "wires": [["status"]]},
        {"id": "caught", "type": "helper", "z": "t1", "wires": []},
        {"id": "status", "type": "helper", "z": "t1", "wires": []},
    ]  # fmt: skip


def payloads(harness: FlowHarness, sink: str) -> list[Any]:
    return [m.get("payload") for m in harness.taken(sink)]


# -- return shapes and sending ---------------------------------------------------------------


def test_returns_the_message_it_changed_with_the_same_msgid(fake: FlowHarness) -> None:
    fake.deploy(function("msg.payload = msg.payload * 2; msg.topic = 'doubled'; return msg;"))
    fake.inject("f", {"_msgid": "m1", "payload": 21})
    assert fake.taken("out0") == [{"_msgid": "m1", "payload": 42, "topic": "doubled"}]


def test_a_message_without_msgid_gets_one(fake: FlowHarness) -> None:
    fake.deploy(function("msg.seen = typeof msg._msgid; return msg;"))
    fake.inject("f", {"payload": 1})
    (out,) = fake.taken("out0")
    assert out["seen"] == "string" and out["_msgid"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("return [msg, null, null];", [[1], [], []]),
        ("return [null, msg];", [[], [1], []]),
        ("return [[{payload: 1}, {payload: 2}], null, msg];", [[1, 2], [], [1]]),
        ("return [msg, [msg, msg]];", [[1], [1, 1], []]),
        ("return null;", [[], [], []]),
        ("return;", [[], [], []]),
        ("return [null, 0, ''];", [[], [], []]),
    ],
)
def test_return_shapes_as_node_red_sends_them(fake: FlowHarness, body: str, expected: list[list[Any]]) -> None:
    fake.deploy(function(body, outputs=3))
    fake.inject("f", payload=1)
    assert [payloads(fake, f"out{n}") for n in range(3)] == expected


def test_every_sent_message_carries_the_input_msgid(fake: FlowHarness) -> None:
    fake.deploy(function("node.send({payload: 'a'}); return [[{payload: 'b'}], {payload: 'c'}];", outputs=2))
    fake.inject("f", {"_msgid": "in-1", "payload": 0})
    assert {m["_msgid"] for m in fake.taken("out0") + fake.taken("out1")} == {"in-1"}


def test_values_that_are_not_messages_are_logged_not_sent(fake: FlowHarness, caplog: pytest.LogCaptureFixture) -> None:
    fake.deploy(function("return ['text', 5, [[1]]];", outputs=3))
    fake.inject("f", payload=1)
    assert [payloads(fake, f"out{n}") for n in range(3)] == [[], [], []]
    assert fake.taken("caught") == []
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    for kind in ("string", "number", "Array"):
        assert any(f"Function tried to send a message of type {kind}" in line for line in logged)


def test_node_send_now_then_return_then_timer_arrive_in_order(fake: FlowHarness) -> None:
    fake.deploy(function("setTimeout(() => node.send({payload: 'late'}), 500); node.send({payload: 'now'}); return {payload: 'ret'};"))  # fmt: skip
    fake.inject("f", payload=0)
    assert payloads(fake, "out0") == ["now", "ret"]
    fake.advance(0.499)
    assert fake.taken("out0") == []
    fake.advance(0.001)
    assert payloads(fake, "out0") == ["late"]


def test_await_on_a_timer_resumes_when_the_clock_gets_there(fake: FlowHarness) -> None:
    fake.deploy(function("await new Promise(r => setTimeout(r, 2000)); msg.payload = 'after'; return msg;"))
    fake.inject("f", payload=0)
    fake.advance(1.9)
    assert fake.taken("out0") == []
    fake.advance(0.1)
    assert payloads(fake, "out0") == ["after"]


def test_set_interval_repeats_until_cleared(fake: FlowHarness) -> None:
    fake.deploy(function("var n = 0; var t = setInterval(() => { n++; node.send({payload: n}); if (n === 3) clearInterval(t); }, 100);"))  # fmt: skip
    fake.inject("f", payload=0)
    fake.advance(1.0)
    assert payloads(fake, "out0") == [1, 2, 3]


def test_clear_timeout_cancels(fake: FlowHarness) -> None:
    fake.deploy(function("var t = setTimeout(() => node.send({payload: 'no'}), 100); clearTimeout(t); return null;"))
    fake.inject("f", payload=0)
    fake.advance(1.0)
    assert fake.taken("out0") == []


def test_timers_are_cancelled_when_the_node_closes(fake: FlowHarness) -> None:
    fake.deploy(function("setTimeout(() => global.set('fired', true), 100); return null;"))
    fake.inject("f", payload=0)
    fake.deploy(function("return msg;"))
    fake.advance(1.0)
    assert fake.runtime.contexts.global_.get("fired") is None
    assert fake.fake_clock.pending == 0


# -- node API ----------------------------------------------------------------------------------


def test_node_properties(fake: FlowHarness) -> None:
    fake.deploy(function("msg.payload = [node.id, node.name, node.outputCount, node.path]; return msg;", outputs=2, name="calc"))  # fmt: skip
    fake.inject("f", payload=0)
    assert payloads(fake, "out0") == [["f", "calc", 2, "t1/f"]]


def test_node_done_without_an_error_changes_nothing(fake: FlowHarness) -> None:
    fake.deploy(function("node.done(); return msg;"))
    fake.inject("f", payload=7)
    assert payloads(fake, "out0") == [7]
    assert fake.taken("caught") == []


def test_node_done_with_an_error_goes_to_catch(fake: FlowHarness) -> None:
    fake.deploy(function("node.done('failed via done'); return null;"))
    fake.inject("f", payload=7)
    (caught,) = fake.taken("caught")
    assert caught["payload"] == 7
    assert caught["error"] == {
        "message": "failed via done",
        "source": {"id": "f", "type": "function", "name": "", "count": 1},
    }


def test_node_error_with_msg_goes_to_catch_without_msg_only_to_the_log(
    fake: FlowHarness, caplog: pytest.LogCaptureFixture
) -> None:
    fake.deploy(function("node.error('bad thing', msg); node.error('no msg'); node.warn({a: 1}); node.log('note'); return null;"))  # fmt: skip
    with caplog.at_level(logging.INFO):
        fake.inject("f", payload=1)
    assert [c["error"]["message"] for c in fake.taken("caught")] == ["bad thing"]
    lines = {(r.levelname, r.getMessage()) for r in caplog.records if r.name == "flowengine.node.function"}
    assert {
        ("ERROR", "[function:f] no msg"),
        ("WARNING", '[function:f] {"a":1}'),
        ("INFO", "[function:f] note"),
    } <= lines


def test_status_reaches_status_nodes_as_node_red_shapes_it(fake: FlowHarness) -> None:
    fake.deploy(function("node.status({fill: 'red', shape: 'ring', text: 'hi'}); node.status('plain'); node.status({text: 5}); node.status({}); return null;"))  # fmt: skip
    fake.inject("f", payload=1)
    source = {"id": "f", "type": "function", "name": ""}
    assert [m["status"] for m in fake.taken("status")] == [
        {"fill": "red", "shape": "ring", "text": "hi", "source": source},
        {"text": "plain", "source": source},
        {"text": "5", "source": source},
        {"source": source},
    ]
    assert all("payload" not in m for m in fake.taken("status"))


def test_node_on_input_is_refused_as_in_node_red(fake: FlowHarness) -> None:
    fake.deploy(function("try { node.on('input', () => 0) } catch (e) { msg.payload = e.message } return msg;"))
    fake.inject("f", payload=1)
    assert payloads(fake, "out0") == ["Cannot add listener to 'input' event within Function"]


# -- context and env ---------------------------------------------------------------------------


def test_contexts_are_the_runtimes(fake: FlowHarness) -> None:
    fake.runtime.contexts.global_.set("limit", 3)
    body = "context.set('n', (context.get('n') || 0) + 1); flow.set('last', msg.payload); msg.payload = [context.get('n'), global.get('limit'), flow.keys()]; return msg;"  # fmt: skip
    fake.deploy(function(body))
    fake.inject("f", payload="a")
    fake.inject("f", payload="b")
    assert payloads(fake, "out0") == [[1, 3, ["last"]], [2, 3, ["last"]]]
    node = fake.node("f")
    assert node.context("node").get("n") == 2
    assert node.context("flow").get("last") == "b"


def test_context_values_persist_in_the_state_dir(tmp_path: Path) -> None:
    with FlowHarness(state_dir=tmp_path) as first:
        first.deploy(function("flow.set('kept', {count: msg.payload}); global.set('g', [1, 2]); return msg;"))
        first.inject("f", payload=5)
        first.one("out0")
    with FlowHarness(state_dir=tmp_path) as second:
        second.deploy(function("msg.payload = [flow.get('kept.count'), global.get('g')]; return msg;"))
        second.inject("f", payload=0)
        assert second.one("out0")["payload"] == [5, [1, 2]]


def test_context_arrays_callbacks_undefined_and_delete(fake: FlowHarness) -> None:
    body = """
    context.set(['a', 'b'], [1, 2]);
    context.get(['a', 'b'], function (err, a, b) { msg.payload = [err, a, b]; });
    context.get('a', function (err, a) { msg.cb = a; });
    msg.missing = context.get('nope') === undefined;
    context.set('a', undefined);
    msg.keys = context.keys();
    msg.same = context.flow === flow;
    return msg;
    """
    fake.deploy(function(body))
    fake.inject("f", payload=0)
    (out,) = fake.taken("out0")
    assert (out["payload"], out["cb"], out["missing"], out["keys"], out["same"]) == (
        [None, 1, 2],
        1,
        True,
        ["b"],
        False,
    )


def test_env_get_reads_the_tab_env_then_the_runtime_env_never_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_OF_THE_PROCESS", "leak")
    flow = function("msg.payload = [env.get('TAB'), env.get('NUM'), env.get('ALLOWED'), env.get('SECRET_OF_THE_PROCESS')]; return msg;")  # fmt: skip
    flow[0]["env"] = [{"name": "TAB", "value": "t", "type": "str"}, {"name": "NUM", "value": "42", "type": "num"}]
    with FlowHarness(state_dir=tmp_path, env={"ALLOWED": "yes"}) as harness:
        harness.deploy(flow)
        harness.inject("f", payload=0)
        assert harness.one("out0")["payload"] == ["t", 42, "yes", None]


# -- On Start and On Stop ----------------------------------------------------------------------


def test_on_start_runs_first_and_messages_wait_for_its_promise(fake: FlowHarness) -> None:
    init = "context.set('n', 10); await new Promise(r => setTimeout(r, 1000)); context.set('ready', true);"
    fake.deploy(function("msg.payload = [context.get('n'), context.get('ready')]; return msg;", initialize=init))
    fake.inject("f", payload=0)
    assert fake.taken("out0") == []
    fake.advance(1.0)
    assert payloads(fake, "out0") == [[10, True]]


def test_on_start_can_send(fake: FlowHarness) -> None:
    fake.deploy(function("return msg;", initialize="setTimeout(() => node.send({payload: 'hello'}), 10);"))
    fake.advance(0.01)
    assert payloads(fake, "out0") == ["hello"]


def test_on_start_failure_is_logged_and_messages_are_dropped(
    fake: FlowHarness, caplog: pytest.LogCaptureFixture
) -> None:
    fake.deploy(function("return msg;", initialize="throw new Error('init failed');"))
    fake.inject("f", payload=0)
    assert fake.taken("out0") == [] and fake.taken("caught") == []
    assert any("Error: init failed" in r.getMessage() for r in caplog.records)


def test_on_stop_runs_when_the_node_closes(fake: FlowHarness) -> None:
    fake.deploy(function("return msg;", finalize="global.set('stopped', node.id);"))
    fake.deploy(function("return msg; // changed"))
    assert fake.runtime.contexts.global_.get("stopped") == "f"


def test_status_is_cleared_when_a_node_that_showed_one_closes(fake: FlowHarness) -> None:
    watcher = [{"id": "s2", "type": "status", "z": "t1", "wires": [["seen"]]}, {"id": "seen", "type": "helper", "z": "t1", "wires": []}]  # fmt: skip
    fake.deploy(function("node.status({text: 'busy'}); return null;") + watcher)
    fake.inject("f", payload=0)
    fake.deploy(function("return null;") + watcher)
    assert [m["status"].get("text") for m in fake.taken("seen")] == ["busy", None]


# -- values in and out -------------------------------------------------------------------------


def test_bytes_arrive_as_buffers_and_buffers_leave_as_bytes(fake: FlowHarness) -> None:
    body = "msg.was = [Buffer.isBuffer(msg.payload), msg.payload.length, JSON.stringify(msg.payload)]; msg.payload = Buffer.concat([msg.payload, Buffer.from('hi')]); return msg;"  # fmt: skip
    fake.deploy(function(body))
    fake.inject("f", payload=b"\x01\x02\xff")
    (out,) = fake.taken("out0")
    assert out["payload"] == b"\x01\x02\xffhi"
    assert out["was"] == [True, 3, '{"type":"Buffer","data":[1,2,255]}']


def test_buffer_api_gives_what_node_gives(fake: FlowHarness) -> None:
    body = """var b = Buffer.from([1,2,3,4]); msg.payload = [b.readUInt16BE(0), b.readUInt32LE(0), b.toString('hex'),
    b.toString('base64'), Buffer.from({type:'Buffer', data:[65,66]}).toString(), b.slice(1,3).toString('hex'),
    Buffer.from('héllo €').length, Buffer.from('aGVsbG8=', 'base64').toString(), Buffer.alloc(3, 1).toString('hex'),
    b.equals(Buffer.from([1,2,3,4])), b.indexOf(3), Buffer.byteLength('héllo'), b.readFloatBE(0),
    Buffer.from([255,254]).readInt16LE(0)]; return msg;"""
    fake.deploy(function(body))
    fake.inject("f", payload=0)
    expected = [258, 67305985, "01020304", "AQIDBA==", "AB", "0203", 10, "hello", "010101", True, 2, 6,
                2.387939260590663e-38, -257]  # fmt: skip
    assert payloads(fake, "out0") == [expected]


def test_values_leave_as_json_stringify_leaves_them(fake: FlowHarness) -> None:
    fake.deploy(function("msg.u = undefined; msg.n = NaN; msg.d = new Date(0); msg.a = [undefined, 1]; return msg;"))
    fake.inject("f", {"_msgid": "m", "payload": 1})
    assert fake.taken("out0") == [{"_msgid": "m", "payload": 1, "n": None, "d": "1970-01-01T00:00:00.000Z", "a": [None, 1]}]  # fmt: skip


def test_red_util_clone_and_message_properties(fake: FlowHarness) -> None:
    body = "var m = RED.util.cloneMessage(msg); m.deep.a.push(3); msg.got = RED.util.getMessageProperty(msg, 'msg.deep.a[1]'); RED.util.setMessageProperty(msg, 'x.y[0]', 5); return [[msg, m]];"  # fmt: skip
    fake.deploy(function(body))
    fake.inject("f", {"_msgid": "m", "deep": {"a": [1, 2]}})
    original, copy = fake.taken("out0")
    assert original["deep"] == {"a": [1, 2]} and copy["deep"] == {"a": [1, 2, 3]}
    assert (original["got"], original["x"]) == (2, {"y": [5]})


def test_javascript_globals_node_red_provides(fake: FlowHarness) -> None:
    body = "const wait = util.promisify(setTimeout); await wait(50); msg.payload = [util.format('%s=%d %j', 'a', 5, {b: 1}), typeof console, typeof require, Math.max(1, 2)]; return msg;"  # fmt: skip
    fake.deploy(function(body))
    fake.inject("f", payload=0)
    fake.advance(0.05)
    assert payloads(fake, "out0") == [['a=5 {"b":1}', "object", "undefined", 2]]


# -- errors, shaped as Node-RED shapes them ----------------------------------------------------


SOURCE = {"id": "f", "type": "function", "name": "", "count": 1}


def caught_error(fake: FlowHarness, body: str, **msg: Any) -> dict[str, Any]:
    fake.deploy(function(body))
    fake.inject("f", {"_msgid": "m", "payload": 1, **msg})
    (caught,) = fake.taken("caught")
    return caught


def test_a_thrown_error_goes_to_catch_with_its_text_stack_and_the_message(fake: FlowHarness) -> None:
    caught = caught_error(fake, "msg.payload = 2;\nthrow new Error('boom');")
    assert caught["payload"] == 2 and caught["_msgid"] == "m"
    assert caught["_error"] == {}  # Node-RED sets msg.error to the Error; JSON of an Error is {}
    error = caught["error"]
    assert (error["message"], error["source"]) == ("Error: boom", SOURCE)
    assert error["stack"].startswith("Error: boom\n    at Function node:f:3:")


def test_reference_errors_name_their_line_and_column(fake: FlowHarness) -> None:
    caught = caught_error(fake, "\nvar a = 1;\nfoo.bar = 2;\nreturn msg;")
    assert caught["error"]["message"] == "ReferenceError: ReferenceError: foo is not defined (line 3, col 1)"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("var x; x.y = 1; return msg;", "TypeError: Cannot set properties of undefined (setting 'y')"),
        (
            "var m = {payload: {}}; return m.payload.temp.value;",
            "TypeError: Cannot read properties of undefined (reading 'value')",
        ),
        ("var o = null; return o.x;", "TypeError: Cannot read properties of null (reading 'x')"),
        ("const q = 1; q = 2;", "TypeError: Assignment to constant variable."),
        ("JSON.parse('{');", "SyntaxError: Expected property name or '}' in JSON at position 1"),
        ("function r() { return r() + 1 } return r();", "RangeError: Maximum call stack size exceeded"),
    ],
)
def test_engine_errors_read_as_node_red_reports_them(fake: FlowHarness, body: str, message: str) -> None:
    assert caught_error(fake, body)["error"]["message"] == message


def test_thrown_strings_and_objects(fake: FlowHarness) -> None:
    assert caught_error(fake, "throw 'plain';")["error"] == {"message": "plain", "source": SOURCE}
    assert caught_error(fake, "throw {a: 1};")["error"] == {"message": '{"a":1}', "source": SOURCE}


def test_error_code_and_cause_are_kept(fake: FlowHarness) -> None:
    error = caught_error(fake, "var e = new Error('outer', {cause: 'inner'}); e.code = 'E42'; throw e;")["error"]
    assert (error["message"], error["code"], error["cause"]) == ("Error: outer", "E42", "inner")


def test_an_error_the_message_had_moves_to_underscore_error(fake: FlowHarness) -> None:
    caught = caught_error(fake, "node.error('second', msg); return null;", error={"message": "first"})
    assert caught["_error"] == {"message": "first"}
    assert caught["error"]["message"] == "second"


def test_an_error_in_a_timer_goes_to_catch_with_an_empty_message(fake: FlowHarness) -> None:
    fake.deploy(function("setTimeout(() => { throw new Error('in timer'); }, 50); return null;"))
    fake.inject("f", payload=1)
    fake.advance(0.05)
    (caught,) = fake.taken("caught")
    assert set(caught) == {"_msgid", "error"}
    assert caught["error"]["message"] == "Error: in timer"


# -- validation at deploy ----------------------------------------------------------------------


def problems(harness: FlowHarness, **props: Any) -> list[tuple[str | None, str | None, str]]:
    with pytest.raises(FlowConfigError) as raised:
        harness.deploy(function(props.pop("func", "return msg;"), **props))
    return [(p.node_id, p.field, p.message) for p in raised.value.problems]


def test_a_syntax_error_is_a_problem_naming_node_field_and_line(fake: FlowHarness) -> None:
    ((node_id, field, message),) = problems(fake, func="var a = 1;\nvar b = ;\nreturn msg;")
    assert (node_id, field) == ("f", "func")
    assert "SyntaxError" in message and "(line 2, col" in message


@pytest.mark.parametrize("field", ["initialize", "finalize"])
def test_syntax_errors_in_on_start_and_on_stop_name_their_field(fake: FlowHarness, field: str) -> None:
    ((_, named, message),) = problems(fake, **{field: "if ("})
    assert named == field and "SyntaxError" in message


def test_await_is_allowed_in_on_start_but_not_in_on_stop(fake: FlowHarness) -> None:
    ((_, named, _),) = problems(fake, initialize="await null;", finalize="await null;")
    assert named == "finalize"


def test_code_that_closes_its_function_is_a_problem_and_never_runs(fake: FlowHarness) -> None:
    ((_, field, message),) = problems(fake, func="return msg;\n}); global.set('escaped', 1); (function(){")
    assert field == "func" and "closes the function" in message
    assert fake.runtime.contexts.global_.get("escaped") is None


def test_external_modules_are_a_problem(fake: FlowHarness) -> None:
    ((_, field, message),) = problems(fake, libs=[{"var": "moment", "module": "moment"}])
    assert field == "libs" and "moment" in message and "not supported" in message


@pytest.mark.parametrize("outputs", [-1, 1.5, "two"])
def test_bad_outputs_are_a_problem(fake: FlowHarness, outputs: Any) -> None:
    ((_, field, _),) = problems(fake, outputs=outputs)
    assert field == "outputs"


def test_bad_timeout_and_memory_are_problems(fake: FlowHarness) -> None:
    assert {field for _, field, _ in problems(fake, timeout=-1, memory=0)} == {"timeout", "memory"}


def test_node_red_property_forms_are_accepted(fake: FlowHarness) -> None:
    fake.deploy(function("return msg;", outputs="2", timeout="", noerr=0, initialize="", finalize="", libs=[]))
    assert fake.node("f").config.outputs == 2
    assert fake.node("f").seconds == function_node.DEFAULT_TIMEOUT


def test_without_the_engine_the_problem_names_the_extra(fake: FlowHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(function_node, "engine_available", lambda: False)
    ((node_id, _, message),) = problems(fake)
    assert node_id == "f" and "pip install 'flowengine[function]'" in message
