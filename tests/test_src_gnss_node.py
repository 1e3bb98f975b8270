"""GNSS source through its real transport (a pty standing in for the UART), with faults injected."""

from __future__ import annotations

import contextlib
import os
import threading
import tty
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowengine.config import DeviceConfig
from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness, run_source
from nodes.sources.gnss.nmea import KEYS

DATA = Path(__file__).parent / "data" / "nmea"


class PtyUart:
    """A receiver on a pty behind a stable symlink; it can vanish and come back on a new pty."""

    def __init__(self, link: Path, lines: bytes) -> None:
        self.link, self.lines = link, lines
        self.stop = threading.Event()
        self.master = -1
        self.plug()
        self.thread = threading.Thread(target=self._feed, daemon=True)
        self.thread.start()

    def plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        self.link.unlink(missing_ok=True)
        self.link.symlink_to(os.ttyname(slave))
        self.master, self.slave = master, slave

    def unplug(self) -> None:
        master, self.master = self.master, -1
        for fd in (master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _feed(self) -> None:
        while not self.stop.wait(0.05):
            if self.master >= 0 and self.lines:
                with contextlib.suppress(OSError):
                    os.write(self.master, self.lines)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.unplug()


@pytest.fixture
def uart(tmp_path: Path) -> Iterator[PtyUart]:
    device = PtyUart(tmp_path / "ttyGNSS", (DATA / "munich_1994.nmea").read_bytes())
    yield device
    device.close()


def run_gnss(device: DeviceConfig, **config: Any) -> FlowHarness:
    return run_source("gnss", "gnss source", device, interval=0.1, **config)


def located(payload: dict[str, Any]) -> bool:
    return payload.get("gnss.latitude") == 48.1173


def invalid(payload: dict[str, Any]) -> bool:
    return all(payload[k] is None for k in KEYS) and "gnss.ts" not in payload


def test_hardware_port_vanishes_and_returns(uart: PtyUart) -> None:
    device = DeviceConfig(sources={"gnss": {"port": str(uart.link), "silence_s": 1.0}})
    with run_gnss(device, backend="hardware") as h:
        payload = h.first_payload("out", located)
        assert isinstance(payload["gnss.ts"], int) and payload["gnss.fix"] == 3
        uart.unplug()
        h.first_payload("out", invalid)
        assert h.node("gnss").last_status["fill"] == "red"
        uart.plug()
        h.first_payload("out", located, timeout=15.0)


def test_silent_receiver_turns_values_invalid(uart: PtyUart) -> None:
    device = DeviceConfig(sources={"gnss": {"port": str(uart.link), "silence_s": 0.5}})
    with run_gnss(device, backend="hardware") as h:
        h.first_payload("out", located)
        uart.lines = b""
        h.first_payload("out", invalid)


def test_garbage_bytes_are_counted_and_values_stay_valid() -> None:
    with run_gnss(DeviceConfig(simulate=True)) as h:
        h.first_payload("out", lambda p: p["gnss.fix"] == 3)
        receiver = h.node("gnss").receiver  # type: ignore[attr-defined]
        receiver.write(b"\xff\xfe\x00noise\r\n$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48\r\n")
        h.first_payload("out", lambda p: "bad line" in h.node("gnss").last_status.get("text", ""))
        stats = h.node("gnss").decoder.stats  # type: ignore[attr-defined]
        assert stats.bad_checksum >= 1 and stats.garbage >= 1
        assert h.first_payload("out", lambda p: True)["gnss.latitude"] is not None


def test_simulated_receiver_delivers_every_key() -> None:
    with run_gnss(DeviceConfig(simulate=True)) as h:
        payload = h.first_payload("out", lambda p: p["gnss.fix"] == 3)
        assert set(payload) == {*KEYS, "gnss.ts"}
        assert all(payload[k] is not None for k in KEYS)
        assert h.node("gnss").last_status["fill"] == "green"


def test_bad_setting_is_reported_with_its_field() -> None:
    with pytest.raises(FlowConfigError, match=r"sources.gnss: node gnss: baudrate"):
        run_gnss(DeviceConfig(sources={"gnss": {"baudrate": 1234}})).close()
