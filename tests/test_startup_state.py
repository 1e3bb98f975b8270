"""Start-up never crashes or hangs on a broken state dir: one clear line, a defined degraded mode."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from agent_support import Platform, RunningAgent, device

from flowengine.mqtt.offline_store import OfflineStore
from flowengine.testing import Mosquitto

pytestmark = pytest.mark.broker


@contextmanager
def run(broker: Mosquitto, state: Path, client_id: str, **extra: object) -> Iterator[tuple[RunningAgent, Platform]]:
    """The agent on ``state`` and a platform talking to it; both closed at the end."""
    agent = RunningAgent(device(broker, state, client_id, **extra))
    try:
        platform = Platform(broker.port, f"v1/{client_id}").wait_ready()
        try:
            yield agent, platform
        finally:
            platform.close()
    finally:
        agent.stop()


def test_a_state_dir_that_is_a_file_runs_on_defaults_and_refuses_changes(
    broker: Mosquitto, tmp_path: Path, client_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state"
    state.write_text("not a directory")
    with run(broker, state, client_id) as (agent, platform):
        assert "STATE DIR UNUSABLE" in caplog.text
        assert "result" in platform.request("sysinfo/refresh", when_free=True)
        answer = platform.request("gnss/set", {"interval": 5})
        assert answer["error"] == "device_error" and answer["error_desc"].startswith("state:")
        assert agent.runtime.nodes["group-gnss"].settings.interval == 10  # nothing changed


def test_an_offline_store_that_cannot_open_leaves_the_link_in_memory_mode(
    broker: Mosquitto, tmp_path: Path, client_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state"
    (state / "offline.db").mkdir(parents=True)  # a directory where the database belongs
    with run(broker, state, client_id, mqtt={"offline_store": True}) as (agent, platform):
        assert "offline store unavailable, durable messages wait in memory instead" in caplog.text
        assert agent.agent.link.offline_stats().mode == "memory (offline store unavailable)"
        assert "result" in platform.request("sysinfo/refresh", when_free=True)


def test_a_fifo_in_place_of_a_state_file_is_reported_not_read(
    broker: Mosquitto, tmp_path: Path, client_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    flexapi = tmp_path / "state" / "flexapi"
    flexapi.mkdir(parents=True)
    os.mkfifo(flexapi / "io_outputs.json")  # reading it would block start-up forever
    with run(broker, tmp_path / "state", client_id) as (_, platform):
        assert "STATE FILE INVALID" in caplog.text and "io_outputs.json is not a regular file" in caplog.text
        assert "result" in platform.request("sysinfo/refresh", when_free=True)


def test_user_data_of_the_wrong_shape_is_reported_and_replaced_by_defaults(
    broker: Mosquitto, tmp_path: Path, client_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    flexapi = tmp_path / "state" / "flexapi"
    flexapi.mkdir(parents=True)
    (flexapi / "userdata.json").write_text('{"values": ["not", "an", "object"]}')
    caplog.set_level(logging.ERROR)
    with run(broker, tmp_path / "state", client_id) as (_, platform):
        assert "STATE FILE INVALID: userdata.json" in caplog.text
        assert platform.request("userdata/refresh")["error"] == "data_invalid"


def test_the_offline_store_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "offline.db"
    with OfflineStore(path) as store:
        store.put("v1/dev/gnss/info", b"{}", 1, False)
    for name in (path, Path(f"{path}-wal")):
        if name.exists():
            assert stat.S_IMODE(name.stat().st_mode) == 0o600, name


def test_an_existing_world_readable_store_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "offline.db"
    OfflineStore(path).close()
    path.chmod(0o644)
    OfflineStore(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
