"""function limits: a runaway call (endless loop, memory bomb, deep recursion, a native loop the
engine cannot interrupt) ends in a catch-able error while every other flow keeps running; the
node stays usable; closing it mid-runaway does not wait for the runaway.

The runaway code first sends "started" and then asks for a context value: the request makes the
worker hand over what the code sent so far, so "started" arrives while the loop runs. Runaways
that would end by themselves within milliseconds (memory, recursion) first wait for the other
flow to say "go", so its messages have gone through while the runaway was running.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

import psutil
import pytest

from flowengine.testing import FlowHarness, wait_until

STARTED = "node.send({payload: 'started'}); flow.get('sync');"
AFTER_GO = "while (!global.get('go')) {}"
OTHER = (
    "if (msg.payload === 'go') { global.set('go', true); return null; } msg.payload = 'b' + msg.payload; return msg;"
)


def flows(runaway: str, echo: str = "", **props: Any) -> list[dict[str, Any]]:
    """Tab t1: function ``r`` running ``runaway`` when the payload is "run" (else ``echo``, then it
    returns the message), catch -> events. Tab t2: function ``b`` prefixing "b". Everything ends in
    the one helper ``events``, in the order it happened."""
    body = f"if (msg.payload !== 'run') {{ {echo} return msg; }}\n{STARTED}\n{runaway}"
    return [
        {"id": "t1", "type": "tab"},
        {"id": "t2", "type": "tab"},
        {"id": "r", "type": "function", "z": "t1", "func": body, "wires": [["events"]], **props},
        {"id": "c", "type": "catch", "z": "t1", "scope": ["r"], "wires": [["events"]]},
        {"id": "b", "type": "function", "z": "t2", "func": OTHER, "wires": [["events"]]},
        {"id": "events", "type": "helper", "z": "t2", "wires": []},
    ]


def start_runaway(harness: FlowHarness) -> None:
    harness.inject("r", payload="run")
    assert harness.one("events")["payload"] == "started"


def other_flow_keeps_running(harness: FlowHarness) -> None:
    for n in range(5):
        harness.inject("b", payload=n)
        assert harness.one("events")["payload"] == f"b{n}"
    harness.inject("b", payload="go")


def still_usable(harness: FlowHarness) -> None:
    harness.inject("r", payload="again")
    assert harness.one("events", timeout=15)["payload"] == "again"


def worker_pid(harness: FlowHarness, node_id: str = "r") -> int:
    transport = harness.node(node_id).worker._transport
    assert transport is not None
    return int(transport.get_pid())


def test_endless_loop_stops_at_its_timeout_while_the_other_flow_runs(harness: FlowHarness) -> None:
    harness.deploy(flows("while (true) {}", timeout=3))
    pid = worker_pid(harness)
    start_runaway(harness)
    other_flow_keeps_running(harness)
    caught = harness.one("events", timeout=15)
    assert caught["error"]["message"] == "Error: Script execution timed out after 3000ms"
    assert caught["error"]["code"] == "ERR_SCRIPT_EXECUTION_TIMEOUT"
    assert caught["payload"] == "run"
    still_usable(harness)
    assert worker_pid(harness) == pid  # the engine stopped it: no restart, the code's state is kept


def test_memory_bomb_stops_at_the_memory_limit_while_the_other_flow_runs(harness: FlowHarness) -> None:
    harness.deploy(flows(f"{AFTER_GO} let a = []; while (true) a.push(new Array(1e6).fill(1));", memory=16, timeout=30))
    start_runaway(harness)
    other_flow_keeps_running(harness)
    caught = harness.one("events", timeout=15)
    assert caught["error"]["message"] == "RangeError: Function node memory limit exceeded (16 MiB)"
    still_usable(harness)


def test_deep_recursion_stops_at_the_stack_limit(harness: FlowHarness) -> None:
    harness.deploy(flows(f"{AFTER_GO} function down(n) {{ return down(n + 1) + 1; }} return down(0);", timeout=30))
    start_runaway(harness)
    other_flow_keeps_running(harness)
    assert harness.one("events")["error"]["message"] == "RangeError: Maximum call stack size exceeded"
    still_usable(harness)


def test_recursion_as_deep_as_node_allows_is_fine(harness: FlowHarness) -> None:
    harness.deploy(flows("function down(n) { return n ? down(n - 1) + 1 : 0; } msg.payload = down(9000); return msg;"))  # fmt: skip
    start_runaway(harness)
    assert harness.one("events")["payload"] == 9000


def test_memory_kept_after_a_bomb_gets_a_fresh_context_and_a_warning(
    harness: FlowHarness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.deploy(flows("leak = []; while (true) leak.push(new Array(1e5).fill(1));", memory=16, timeout=30))
    start_runaway(harness)
    assert harness.one("events", timeout=15)["error"]["message"].startswith("RangeError: Function node memory limit")
    still_usable(harness)
    assert any("JavaScript state lost" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_a_native_loop_the_engine_cannot_interrupt_is_killed_and_the_node_restarts(
    harness: FlowHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """``join`` of a sparse 2^31-element array loops in C without reaching the interrupt handler."""
    init = "context.set('starts', (context.get('starts') || 0) + 1);"
    echo = "msg.starts = context.get('starts');"
    harness.deploy(flows("var a = []; a.length = 2 ** 31; a.join('');", echo, timeout=0.3, initialize=init))
    pid = worker_pid(harness)
    start_runaway(harness)
    other_flow_keeps_running(harness)
    caught = harness.one("events", timeout=15)
    assert caught["error"]["message"] == "Error: Script execution timed out after 300ms"
    harness.inject("r", payload="again")
    assert harness.one("events", timeout=15)["starts"] == 2  # On Start ran again in the new worker
    assert worker_pid(harness) != pid
    wait_until(lambda: not psutil.pid_exists(pid), what="the killed worker gone")
    assert any("JavaScript state lost" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_a_worker_that_dies_is_replaced(harness: FlowHarness) -> None:
    harness.deploy(flows("return msg;"))
    pid = worker_pid(harness)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: harness.node("r").worker.state == "running" and worker_pid(harness) != pid, what="a new worker")
    still_usable(harness)


def test_closing_mid_runaway_does_not_wait_for_the_runaway(harness: FlowHarness) -> None:
    harness.deploy(flows("while (true) {}", timeout=120))
    pid = worker_pid(harness)
    start_runaway(harness)
    harness.call(harness.runtime.stop(), timeout=10)  # the runaway would hold it for 120 s
    wait_until(lambda: not psutil.pid_exists(pid), what="the worker gone")
