"""Without --simulate on a machine without the hardware: one line says which sources found nothing; libraries stay quiet."""

from __future__ import annotations

import logging
import queue
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

from flowengine.cli import build_parser, device_config_from
from flowengine.config import DeviceConfig
from flowengine.errors import DeviceIOError
from flowengine.testing import FlowHarness, free_port
from nodes.sources.drivers import DRIVER_LOGGER, quiet_drivers
from nodes.sources.survey import HardwareSurvey

CONFIG = """
[sources.gnss]
port = "{nowhere}/ttyGNSS"
[sources.obd]
interface = "virtual"
channel = "no-ecu-{port}"
timeout_s = 0.02
[sources.io]
pin_factory = "no-such-factory"
[sources.motion]
iio_root = "{nowhere}"
[sources.modem1]
port = "{nowhere}/ttyModem"
[sources.1-wire]
devices_dir = "{nowhere}"
"""


def stderr_lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_agent_on_a_machine_without_the_hardware_says_so_once(tmp_path: Path) -> None:
    port = free_port()  # nothing listens: the agent keeps retrying the broker, the sources run anyway
    config = tmp_path / "device.toml"
    config.write_text(CONFIG.format(nowhere=tmp_path / "nowhere", port=port))
    command = [sys.executable, "-m", "flowengine", "run", "--config", str(config), "--broker", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(
        [*command, "--state-dir", str(tmp_path / "state")], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    lines, seen = stderr_lines(proc), []
    try:
        deadline = time.monotonic() + 30
        while not any("found nothing" in line for line in seen) and time.monotonic() < deadline:
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                continue
    finally:
        proc.terminate()
        proc.wait(10)
    hints = [line for line in seen if "found nothing" in line]
    assert len(hints) == 1, "".join(seen)
    for name in ("gnss", "obd", "io", "motion", "modem1", "1-wire"):
        assert f" {name} (" in hints[0]
    assert "sysinfo (" not in hints[0]  # it found what it reads
    assert "--simulate" in hints[0]
    assert not any("backend failed" in line or "Warning" in line for line in seen), "".join(seen)


def test_survey_waits_for_every_expected_source_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    survey = HardwareSurvey()
    with caplog.at_level(logging.WARNING, logger="flowengine.sources"):
        survey.report("a", "gnss", "cannot open /dev/ttyS1")
        survey.expect({"a", "b"})
        assert caplog.records == []
        survey.report("b", "obd", None)
        survey.report("a", "gnss", "again")
    assert len(caplog.records) == 1
    assert "1 of 2 hardware source(s) found nothing: gnss (cannot open /dev/ttyS1)" in caplog.text


def test_survey_is_silent_when_everything_was_found(caplog: pytest.LogCaptureFixture) -> None:
    survey = HardwareSurvey()
    with caplog.at_level(logging.WARNING, logger="flowengine.sources"):
        survey.expect({"a"})
        survey.report("a", "gnss", None)
    assert caplog.records == []


def test_gpiozero_fallback_warnings_become_the_reason_of_one_error() -> None:
    from nodes.sources.io.board import load_pin_factory

    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        try:
            load_pin_factory(None)
        except DeviceIOError as exc:
            assert "no GPIO on this machine" in str(exc)
        else:
            pytest.skip("this machine has GPIO")
    assert raised == []


def test_driver_frames_stay_out_of_a_debug_log_unless_asked(caplog: pytest.LogCaptureFixture) -> None:
    def frames(device: DeviceConfig) -> list[logging.LogRecord]:
        caplog.clear()
        with caplog.at_level(logging.DEBUG), FlowHarness(device=device) as h:
            node = {"id": "obd", "type": "obd source", "interval": 0.1, "wires": [["out"]]}
            h.deploy([node, {"id": "out", "type": "helper"}])
            h.first_payload("out", lambda p: p.get("obd.vin") is not None)  # the VIN came through ISO-TP
        return [r for r in caplog.records if r.name.startswith((DRIVER_LOGGER, "can"))]

    try:
        assert frames(DeviceConfig(simulate=True)) == []
        asked = DeviceConfig(simulate=True, sources={"drivers": {"log_level": "debug"}})
        assert any("Rx:" in r.getMessage() or "Tx:" in r.getMessage() for r in frames(asked))
    finally:
        quiet_drivers(DeviceConfig())


def test_driver_log_option_sets_the_level() -> None:
    args = build_parser().parse_args(["run", "--driver-log", "debug"])
    assert device_config_from(args).sources.root["drivers"] == {"log_level": "debug"}  # type: ignore[attr-defined]
