"""Power cuts: SIGKILL ``flowengine run`` right after an acknowledged change; the change survives.

Acknowledged means durable (docs/architecture.md, "Principles"): the state file is
fsynced and renamed before the response is published. Each accepted request
below is followed at once by a SIGKILL; the next start must show it. A state
file truncated by a cut during some other write is survived: the agent starts,
logs it loudly and uses defaults for that file only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_support import AgentProcess, Platform

from flowengine.testing import Mosquitto, wait_until

pytestmark = pytest.mark.broker

CHANGES: list[tuple[str, dict[str, Any]]] = [
    ("gnss/set", {"interval": 33, "interest": {"gnss.speed": "v"}}),
    ("userdata/set", {"insert": {"userdata.driver": "Ann"}}),
    ("io/control", {"io.DO3": 1}),
    ("app/control", {"app.wifi_mode_2g": 1}),
    ("group/set", {"settings": [{"group_name": "keep", "interest": {"io.AI1": "a"}}]}),
]
KEEP = [{"group_name": "keep", "interval": 10, "interest": {"io.AI1": "a"}}]


class Device:
    """One device identity whose agent process is started and killed repeatedly."""

    def __init__(self, broker: Mosquitto, tmp_path: Path, client_id: str) -> None:
        self.broker, self.client_id = broker, client_id
        self.state, self.log = tmp_path / "state", tmp_path / "agent.log"
        self.platform = Platform(broker.port, f"v1/{client_id}")
        self.process: AgentProcess | None = None

    def start(self) -> Platform:
        self.log.write_bytes(b"")
        self.process = AgentProcess(self.broker, self.client_id, self.state, self.log)
        return self.platform.wait_ready(timeout=20)

    def power_cut(self) -> None:
        assert self.process is not None
        self.process.kill()

    def close(self) -> None:
        if self.process is not None:
            self.process.stop()
        self.platform.close()


@pytest.fixture
def dev(broker: Mosquitto, tmp_path: Path, client_id: str) -> Iterator[Device]:
    d = Device(broker, tmp_path, client_id)
    try:
        yield d
    finally:
        d.close()


def eventually(platform: Platform, path: str, check: Any, timeout: float = 10.0) -> dict[str, Any]:
    """Repeat a refresh until its result passes ``check`` (sources need a moment after a start)."""
    found: dict[str, Any] = {}

    def passes() -> bool:
        found.update(platform.request(path, when_free=True))
        return "result" in found and bool(check(found["result"]))

    wait_until(passes, timeout, interval=0.2, what=f"{path} after restart")
    return found["result"]  # type: ignore[no-any-return]


def test_sigkill_right_after_each_acknowledged_change_loses_none(dev: Device) -> None:
    for path, body in CHANGES:
        platform = dev.start()
        assert "result" in platform.request(path, body), path
        dev.power_cut()  # the response is out: the change must already be on disk
    platform = dev.start()
    assert set(eventually(platform, "gnss/refresh", lambda r: "v" in r)) <= {"v", "gnss.ts"}
    assert json.loads((dev.state / "flexapi/groups/gnss.json").read_text())["interval"] == 33
    assert platform.request("userdata/refresh")["result"] == {"userdata.driver": "Ann"}
    assert eventually(platform, "io/refresh", lambda r: r.get("io.DO3") == 1)["io.DO3"] == 1
    assert platform.request("app/refresh")["result"]["app.wifi_mode_2g"] == 1
    assert platform.request("group/get")["result"] == KEEP


def test_a_truncated_state_file_falls_back_to_defaults_for_that_file_only(dev: Device) -> None:
    platform = dev.start()
    for path, body in CHANGES:
        assert "result" in platform.request(path, body), path
    dev.power_cut()
    gnss = dev.state / "flexapi/groups/gnss.json"
    gnss.write_bytes(gnss.read_bytes()[: gnss.stat().st_size // 2])  # a cut in the middle of a write
    (dev.state / "flexapi/custom_groups.json").write_bytes(b"")
    platform = dev.start()
    log = dev.log.read_text()
    assert "STATE FILE CORRUPT" in log and "gnss.json" in log and "custom_groups.json" in log
    gnss_keys = eventually(platform, "gnss/refresh", lambda r: "gnss.latitude" in r)
    assert "v" not in gnss_keys  # the default interest: every gnss parameter, no alias
    assert platform.request("group/get")["result"] == []
    assert platform.request("userdata/refresh")["result"] == {"userdata.driver": "Ann"}
    assert platform.request("app/refresh")["result"]["app.wifi_mode_2g"] == 1
    assert eventually(platform, "io/refresh", lambda r: r.get("io.DO3") == 1)["io.DO3"] == 1
    assert list((dev.state / "flexapi/groups").glob("gnss.json.corrupt-*")), "the bad file is kept aside"
