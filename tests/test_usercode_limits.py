"""The pieces behind user-code limits: the worker pool, the log throttle, deep JSON, the fast path."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from flowengine.errors import ExpressionError, ExpressionLimitError, NodeError
from flowengine.logthrottle import LogThrottle
from flowengine.testing import FlowHarness
from flowengine.workerpool import PoolLimits, WorkerPool
from nodes.core.mqtt_in import decode_payload
from nodes.core.sandbox import DEFAULT_LIMITS, NeedsWorker, Sandbox, limits_tuple

DEEP = b"[" * 5000 + b"]" * 5000
HANDLER = "nodes.core.sandbox:evaluate_in_worker"


def in_worker(source: str, names: dict[str, Any], pool: WorkerPool, **callbacks: Any) -> Any:
    args = (source, limits_tuple(DEFAULT_LIMITS), names, sorted(callbacks))
    return pool.run(HANDLER, args, seconds=1.0, callbacks=callbacks)


def test_worker_pool_evaluates_answers_callbacks_and_is_reused() -> None:
    async def scenario() -> tuple[Any, ...]:
        pool = WorkerPool(("nodes.core.sandbox",))
        try:
            first = await in_worker("payload * 2", {"payload": 21}, pool)
            called = await in_worker("flow('x') + 1", {}, pool, flow=lambda key: 41)
            with pytest.raises(ExpressionError, match="ZeroDivisionError"):
                await in_worker("1 / payload", {"payload": 0}, pool)
            return first, called, pool.size, pool.replaced
        finally:
            await pool.close()

    assert asyncio.run(scenario()) == (42, 42, 1, 0)


def test_worker_pool_kills_a_runaway_and_replaces_the_worker() -> None:
    async def scenario() -> tuple[str, Any, int]:
        pool = WorkerPool(("nodes.core.sandbox",))
        try:
            with pytest.raises(ExpressionLimitError) as info:
                await in_worker("sorted([msg['row']] * payload)", {"payload": 5000, "msg": {"row": [1] * 5000}}, pool)
            after = await in_worker("payload + 1", {"payload": 1}, pool)
            return str(info.value), after, pool.replaced
        finally:
            await pool.close()

    message, after, replaced = asyncio.run(scenario())
    assert "time limit" in message
    assert (after, replaced) == (2, 1)


def test_worker_memory_limit_is_an_error_not_a_crash() -> None:
    async def scenario() -> str:
        pool = WorkerPool(("nodes.core.sandbox",), PoolLimits(memory_mb=64))
        try:
            with pytest.raises(ExpressionLimitError) as info:
                await in_worker("str([msg['row']] * 1000)", {"msg": {"row": list(range(100000))}}, pool)
            return str(info.value)
        finally:
            await pool.close()

    assert "limit" in asyncio.run(scenario())


def test_a_message_too_big_for_the_worker_is_refused_before_sending() -> None:
    async def scenario() -> None:
        pool = WorkerPool(("nodes.core.sandbox",), PoolLimits(max_bytes=1000))
        with pytest.raises(ExpressionLimitError, match="too big"):
            await in_worker("len(payload)", {"payload": "x" * 5000}, pool)
        assert pool.size == 0
        await pool.close()

    asyncio.run(scenario())


def test_cancelling_a_runaway_kills_its_worker_at_once() -> None:
    async def scenario() -> int:
        pool = WorkerPool(("nodes.core.sandbox",))
        task = asyncio.ensure_future(in_worker("str([msg['row']] * 2000)", {"msg": {"row": [1] * 100000}}, pool))
        while pool.size == 0:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        alive = pool.size
        await pool.close()
        return alive

    assert asyncio.run(scenario()) == 0


@pytest.mark.parametrize(
    ("source", "payload", "in_process"),
    [
        ("payload * 2 + 1", 3, True),
        ("payload.upper()", "ab", True),
        ("max(payload)", [3, 1, 2], True),
        ("max(payload)", list(range(20000)), False),  # too big to walk here
        ("payload * 3", [1], False),  # list repetition: shared items
        ("str(payload)", [[1] * 100] * 200, False),
        ("[x for x in payload]", [1], False),  # iterates
    ],
)
def test_fast_path_takes_only_small_work(source: str, payload: Any, in_process: bool) -> None:
    sandbox = Sandbox(source)
    try:
        sandbox.evaluate_bounded({"payload": payload})
        ran_here = True
    except NeedsWorker:
        ran_here = False
    assert ran_here is in_process


def test_log_throttle_logs_first_then_one_per_interval_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    throttle = LogThrottle(logging.getLogger("test.throttle"), interval=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.throttle"):
        for second in range(0, 130, 10):
            now[0] = second
            throttle.warning("k", "bad payload")
        throttle.warning("other", "another key")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "bad payload",
        "bad payload (5 more suppressed in the last 60s)",
        "bad payload (5 more suppressed in the last 60s)",
        "another key",
    ]


def test_log_throttle_forgets_the_oldest_keys_beyond_its_bound() -> None:
    throttle = LogThrottle(logging.getLogger("test.throttle"), max_keys=3)
    for key in range(10):
        throttle.warning(key, "x")
    assert len(throttle._seen) == 3


def test_deep_json_payload_is_a_node_error() -> None:
    with pytest.raises(NodeError, match="nested too deeply"):
        decode_payload(DEEP, "json")
    assert decode_payload(DEEP, "auto-detect") == DEEP.decode()


def test_deep_json_in_the_json_node_goes_to_catch(harness: FlowHarness) -> None:
    harness.deploy(
        [
            {"id": "j", "type": "json", "z": "t1", "wires": [["out"]]},
            {"id": "k", "type": "catch", "z": "t1", "scope": ["j"], "wires": [["caught"]]},
            {"id": "out", "type": "helper", "z": "t1", "wires": []},
            {"id": "caught", "type": "helper", "z": "t1", "wires": []},
        ]
    )
    harness.inject("j", payload=DEEP.decode())
    assert "nested too deeply" in harness.one("caught")["error"]["message"]


def test_expression_failures_reach_catch_every_time_but_log_once(
    harness: FlowHarness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.deploy(
        [
            {"id": "e", "type": "expression", "z": "t1", "expression": "1 / payload", "wires": [["out"]]},
            {"id": "k", "type": "catch", "z": "t1", "scope": ["e"], "wires": [["caught"]]},
            {"id": "out", "type": "helper", "z": "t1", "wires": []},
            {"id": "caught", "type": "helper", "z": "t1", "wires": []},
        ]
    )
    with caplog.at_level(logging.ERROR):
        for _ in range(20):
            harness.inject("e", payload=0)
        assert len(harness.received("caught", 20)) == 20
    assert sum("ZeroDivisionError" in r.getMessage() for r in caplog.records) == 1
