"""The motion source's samples output: produced only while a node wired to it wants samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flowengine.config import DeviceConfig
from flowengine.message import Msg
from flowengine.node import Node, NodeConfig
from flowengine.testing import FlowHarness, wait_until
from nodes.sources.motion.reader import YAW_GYRO_HZ
from nodes.sources.sim.iio_device import SimulatedImu
from nodes.sources.sim.vehicle import Vehicle

SAMPLE_KEYS = {"motion.t", "motion.ax", "motion.ay", "motion.az", "motion.gx", "motion.gy", "motion.gz"}


class SampleConsumerConfig(NodeConfig):
    hz: float = 10.0


class SampleConsumer(Node[SampleConsumerConfig]):
    """Wants ``hz`` samples per second (an event detector would); keeps what it gets."""

    Config = SampleConsumerConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hz = self.config.hz
        self.got: list[Msg] = []

    def samples_wanted(self) -> float:
        return self.hz

    def on_input(self, msg: Msg) -> None:
        self.got.append(msg)


def motion(interval: float = 0.2, **config: Any) -> dict[str, Any]:
    return {"id": "m", "type": "motion source", "interval": interval, "wires": [["values"], ["samples"]], **config}


def harness(device: DeviceConfig) -> FlowHarness:
    h = FlowHarness(device=device)
    h.registry.register("sample consumer", SampleConsumer)
    return h


def readings(h: FlowHarness, count: int) -> None:
    """Wait for ``count`` readings made from now on (the backlog on the values output is dropped)."""
    h.taken("values")
    h.received("values", count, timeout=15)


@pytest.mark.parametrize("buffered", [True, False])
def test_samples_flow_only_while_a_consumer_wants_them(tmp_path: Path, buffered: bool) -> None:
    imu = SimulatedImu(Vehicle(), period=0.1, root=tmp_path / "iio", buffered=buffered).start()
    device = DeviceConfig(sources={"motion": {"iio_root": str(imu.root), "dev_root": str(imu.dev_root)}})
    try:
        with harness(device) as h:
            h.deploy(
                [motion(backend="hardware"), {"id": "values", "type": "helper"}, {"id": "samples", "type": "helper"}]
            )
            readings(h, 3)
            assert h.taken("samples") == []  # a helper does not ask for samples
            node = h.node("m")
            assert node.reader.sample_rate == 0  # type: ignore[attr-defined]

            consumer = {"id": "samples", "type": "sample consumer", "hz": 10}
            h.deploy([motion(backend="hardware"), {"id": "values", "type": "helper"}, consumer])
            sink = h.node("samples")
            wait_until(lambda: len(sink.got) >= 5, 15, what="samples")  # type: ignore[attr-defined]
            first = sink.got[0]  # type: ignore[attr-defined]
            assert set(first["payload"]) == SAMPLE_KEYS and first["topic"] == "motion/samples"
            assert 0.9 < first["payload"]["motion.az"] < 1.1
            times = [m["payload"]["motion.t"] for m in sink.got]  # type: ignore[attr-defined]
            assert times == sorted(times)
            assert node.reader.mode == ("buffered 12.5 Hz" if buffered else "polled 10 Hz")  # type: ignore[attr-defined]

            sink.hz = 0  # type: ignore[attr-defined]  # the consumer no longer wants samples: checked at the next reading
            wait_until(lambda: node.reader.sample_rate == 0, 15, what="the demand to drop")  # type: ignore[attr-defined]
            readings(h, 2)
            count = len(sink.got)  # type: ignore[attr-defined]
            readings(h, 3)
            assert len(sink.got) == count  # type: ignore[attr-defined]
    finally:
        imu.stop()


def test_sample_rate_caps_what_consumers_get_and_yaw_keeps_its_rate() -> None:
    with harness(DeviceConfig(simulate=True)) as h:
        consumer = {"id": "samples", "type": "sample consumer", "hz": 50}
        h.deploy([motion(sample_rate=5), {"id": "values", "type": "helper"}, consumer])
        node = h.node("m")
        wait_until(lambda: node.reader is not None and node.reader.sample_rate == 5, 15)  # type: ignore[attr-defined]
        assert node.reader.needed_rate() == YAW_GYRO_HZ  # type: ignore[attr-defined]


def test_without_a_gyroscope_need_nothing_is_read_between_readings(tmp_path: Path) -> None:
    imu = SimulatedImu(Vehicle(), period=0.1, root=tmp_path / "iio").start()
    device = DeviceConfig(
        sources={"motion": {"iio_root": str(imu.root), "dev_root": str(imu.dev_root), "yaw": "heading"}}
    )
    try:
        with harness(device) as h:
            h.deploy(
                [motion(backend="hardware"), {"id": "values", "type": "helper"}, {"id": "samples", "type": "helper"}]
            )
            readings(h, 2)
            assert h.node("m").reader.mode == "every 0.2 s"  # type: ignore[attr-defined]
    finally:
        imu.stop()
