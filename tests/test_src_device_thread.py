"""Each hardware device owns one thread: its reads run there and arrive on the loop; closing the node ends it."""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from flowengine.config import DeviceConfig
from flowengine.testing import FlowHarness, wait_until
from nodes.sources.base import SourceNode
from nodes.sources.device import DeviceThread, Stream

DEFAULT_FLOW = Path(__file__).resolve().parents[1] / "flows" / "default.json"


class ProbeSource(SourceNode):
    """Reads "the device" on its device thread and publishes which thread read and which one published."""

    prefixes = ("probe",)
    keys = ("probe.reader", "probe.publisher")

    async def run_backend(self) -> None:
        while True:
            reader = await self.device.call(lambda: threading.current_thread().name)
            self.publish({"probe.reader": reader, "probe.publisher": threading.current_thread().name})
            await self.clock.sleep(self.config.interval)  # type: ignore[attr-defined]


class CountingExecutor(ThreadPoolExecutor):
    """A default executor that counts what is handed to it (asyncio.to_thread, run_in_executor(None, ...))."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.jobs = 0

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        self.jobs += 1
        return super().submit(*args, **kwargs)


def test_reads_run_on_the_device_thread_and_arrive_on_the_loop() -> None:
    with FlowHarness() as h:
        h.registry.register("probe source", ProbeSource)
        h.deploy(
            [{"id": "p", "type": "probe source", "interval": 0.05, "wires": [["out"]]}, {"id": "out", "type": "helper"}]
        )
        payload = h.one("out")["payload"]
        assert payload["probe.reader"] == "probe source:p"
        assert payload["probe.publisher"] == "flow-harness"  # the loop's thread


def test_closing_the_node_ends_its_device_thread() -> None:
    with FlowHarness() as h:
        h.registry.register("probe source", ProbeSource)
        h.deploy(
            [{"id": "p", "type": "probe source", "interval": 0.05, "wires": [["out"]]}, {"id": "out", "type": "helper"}]
        )
        h.one("out")
        thread = h.node("p").device.thread  # type: ignore[attr-defined]
        assert thread.is_alive()
        h.deploy([{"id": "out", "type": "helper"}])
        wait_until(lambda: not thread.is_alive(), what="the device thread to end")


def test_a_stream_is_stopped_by_cancelling_its_caller_and_closes_what_it_opened() -> None:
    closed = threading.Event()

    def pump(stream: Stream, deliver: Any) -> None:
        try:
            while not stream.wait(0.01):
                stream.deliver(deliver, threading.current_thread().name)
        finally:
            closed.set()

    async def scenario() -> list[str]:
        device = DeviceThread("dev")
        got: list[str] = []
        task = asyncio.ensure_future(device.stream(pump, got.append))
        while not got:
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert await device.stopped()
        return got

    got = asyncio.run(scenario())
    assert got[0] == "dev" and closed.is_set()


def test_a_failing_call_raises_on_the_loop_and_the_thread_goes_on() -> None:
    async def scenario() -> str:
        device = DeviceThread("dev")
        with pytest.raises(ZeroDivisionError):
            await device.call(lambda: 1 / 0)
        name = await device.call(lambda: threading.current_thread().name)
        await device.stopped()
        return name

    assert asyncio.run(scenario()) == "dev"


def test_simulated_sources_never_use_the_default_executor(tmp_path: Path) -> None:
    sources = [n for n in json.loads(DEFAULT_FLOW.read_text()) if n["type"].endswith(" source")]
    for node in sources:
        node.update(wires=[["sink"]], interval=0.2)
    device = DeviceConfig.model_validate({"simulate": True, "state_dir": str(tmp_path)})
    executor = CountingExecutor()
    with FlowHarness(state_dir=tmp_path, device=device) as h:
        h.loop.call_soon_threadsafe(h.loop.set_default_executor, executor)
        h.deploy([*sources, {"id": "sink", "type": "helper"}])
        seen: set[str] = set()
        while len(seen) < len(sources):
            seen.add(h.one("sink", timeout=15)["topic"])
        names = {t.name for t in threading.enumerate()}
        assert {f"{n['type']}:{n['id']}" for n in sources} <= names
    assert executor.jobs == 0
    executor.shutdown()


class StuckSource(SourceNode):
    """A driver read that never returns; its cleanup is queued behind it."""

    prefixes = ("stuck",)
    keys = ("stuck.value",)
    release = threading.Event()
    cleaned = threading.Event()

    async def run_backend(self) -> None:
        try:
            await self.device.call(self.release.wait)
        finally:
            self.device.submit(self.cleaned.set)


def test_a_read_hung_in_the_driver_does_not_hang_the_close(caplog: pytest.LogCaptureFixture) -> None:
    with FlowHarness() as h:
        h.registry.register("stuck source", StuckSource)
        h.deploy([{"id": "s", "type": "stuck source", "wires": []}])
        node = h.node("s")
        wait_until(lambda: node.device.pending == 1, what="the read to start")  # type: ignore[attr-defined]
        thread = node.device.thread  # type: ignore[attr-defined]
        h.deploy([])  # closing waits a bounded time for the thread, then leaves it behind
        assert "left behind" in caplog.text and thread.is_alive()
        StuckSource.release.set()  # the driver returns at last: the queued cleanup runs, the thread ends
        wait_until(lambda: not thread.is_alive(), what="the thread to end")
        assert StuckSource.cleaned.is_set()
