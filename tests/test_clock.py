"""The runtime's clock: fake time drives timers exactly; missed ticks after a stall are skipped."""

from __future__ import annotations

import time
from typing import Any

import pytest

from flowengine.clock import FakeClock
from flowengine.message import Msg
from flowengine.node import Node, NodeConfig, next_tick
from flowengine.registry import NodeTypeRegistry
from flowengine.testing import FlowHarness, wait_until


class TickerConfig(NodeConfig):
    period: float = 0.1
    block: float = 0.0


class Ticker(Node[TickerConfig]):
    """Counts its timer ticks at the clock's time; an input blocks the event loop for ``block`` s."""

    Config = TickerConfig

    async def on_start(self) -> None:
        self.ticks: list[float] = []
        self.every(self.config.period, lambda: self.ticks.append(self.clock.now()))

    def on_input(self, msg: Msg) -> None:
        time.sleep(self.config.block)


def ticker_harness(clock: Any = None, **props: Any) -> FlowHarness:
    registry = NodeTypeRegistry()
    registry.register("ticker", Ticker)
    harness = FlowHarness(registry=registry, clock=clock)
    harness.deploy([{"id": "t", "type": "ticker", "wires": [], **props}])
    return harness


def test_fake_clock_fires_each_tick_of_the_window_at_its_time() -> None:
    with ticker_harness(FakeClock()) as h:
        h.advance(1.0)
        ticks = h.node("t").ticks  # type: ignore[attr-defined]
        assert ticks == pytest.approx([0.1 * n for n in range(1, 11)])


def test_a_stalled_loop_fires_a_periodic_timer_once_not_a_burst() -> None:
    with ticker_harness(FakeClock()) as h:
        h.stall(1.0)
        assert h.node("t").ticks == [1.0]  # type: ignore[attr-defined]
        h.advance(0.1)
        assert h.node("t").ticks == pytest.approx([1.0, 1.1])  # type: ignore[attr-defined]


def test_a_real_one_second_stall_fires_a_tenth_of_a_second_timer_once() -> None:
    with ticker_harness(block=1.0) as h:
        node = h.node("t")
        wait_until(lambda: len(node.ticks) >= 2, what="the timer running")  # type: ignore[attr-defined]
        before = len(node.ticks)  # type: ignore[attr-defined]
        h.inject("t", payload="block")
        wait_until(lambda: len(node.ticks) > before, timeout=5, what="a tick after the stall")  # type: ignore[attr-defined]
        after_stall = node.ticks[before:]  # type: ignore[attr-defined]
        assert len(after_stall) == 1


@pytest.mark.parametrize(
    ("previous", "now", "expected"),
    [(0.0, 0.05, 0.1), (0.0, 0.1, 0.2), (0.1, 1.0, 1.1), (0.0, 0.999, 1.0)],
)
def test_next_tick_stays_on_the_grid_and_lies_ahead(previous: float, now: float, expected: float) -> None:
    due = next_tick(previous, 0.1, now)
    assert due > now
    assert due == pytest.approx(expected)
