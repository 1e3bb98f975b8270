"""Acknowledge only the truth: every control and setting with the disk (or the hardware) failing at each step.

Each control is first changed once successfully (the old state), then asked again
while a step fails: the state disk is full before anything is written, acting fails
(hardware, a hook's refusal, the graph refusing a custom group), or acting fails and
the disk fills before the roll-back. The answer must match what a restarted agent
does: an error leaves the old state, and where even the roll-back could not be
written, the answer says what the next start will do, and it does that.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flexapi_support import Agent, Disk, FakeIoSource, MemoryLink, device_config, start_agent

import flowengine.state
from flowengine.testing import FlowHarness, wait_until
from nodes.flexapi import statefiles

TIMED = ("summary", "obd", "gnss", "motion", "io", "cellular1", "1-wire", "userdata")


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> Disk:
    failing = Disk()
    monkeypatch.setattr(flowengine.state, "write_atomic", failing.write)
    return failing


class Device:
    """One device across restarts: the same state dir and extra nodes each time."""

    def __init__(self, tmp_path: Path, extra: list[dict[str, Any]] | None = None, revision: str = "1.0.8") -> None:
        self.state_dir = tmp_path / "state"
        self.extra = extra or []
        self.revision = revision
        self.link = MemoryLink()
        self.h = self._start()

    def _start(self) -> FlowHarness:
        return start_agent(self.state_dir, device_config(self.revision), self.extra, link=self.link)

    @property
    def agent(self) -> Agent:
        return Agent(self.h)

    @property
    def io(self) -> FakeIoSource:
        return self.h.node("source-io")  # type: ignore[return-value]

    def restart(self, disk: Disk) -> Agent:
        self.h.close()
        disk.full, disk.fills_after = False, None
        self.h = self._start()
        return self.agent

    def close(self) -> None:
        self.h.close()


@pytest.fixture
def device(tmp_path: Path) -> Iterator[Device]:
    running = Device(tmp_path)
    yield running
    running.close()


def restored_outputs(device: Device) -> dict[str, int]:
    """What the restarted agent drives from its saved outputs."""
    io = device.io
    wait_until(lambda: bool(io.applied), what="saved outputs driven at start")
    return io.applied[0]


# -- io/control and io/toggle -------------------------------------------------------------

OUTPUT_REQUESTS = [
    ("io/control", {"io.DO2": 1}, {"io.DO1": 1, "io.DO2": 1}),
    ("io/toggle", {"io.DO2": 1, "io.DO2_toggle_ms": 500}, {"io.DO1": 1, "io.DO2": 0}),
]


@pytest.mark.parametrize(("path", "body", "new"), OUTPUT_REQUESTS)
def test_outputs_disk_full_before_anything_is_written(
    device: Device, disk: Disk, path: str, body: dict[str, Any], new: dict[str, int]
) -> None:
    assert "result" in device.agent.request("io/control", {"io.DO1": 1})
    device.h.advance(5.0)
    disk.full = True
    resp = device.agent.request(path, body, token="x")
    assert resp["error"] == "device_error" and "No space left" in resp["error_desc"]
    assert device.io.applied == [{"io.DO1": 1}]  # nothing driven
    assert restored_outputs_after(device, disk) == {"io.DO1": 1}


@pytest.mark.parametrize(("path", "body", "new"), OUTPUT_REQUESTS)
def test_outputs_hardware_fails_and_the_file_is_rolled_back(
    device: Device, disk: Disk, path: str, body: dict[str, Any], new: dict[str, int]
) -> None:
    assert "result" in device.agent.request("io/control", {"io.DO1": 1})
    device.h.advance(5.0)
    device.io.fail = True
    resp = device.agent.request(path, body, token="x")
    assert resp["error"] == "device_error" and "rolled back" not in resp["error_desc"]
    assert restored_outputs_after(device, disk) == {"io.DO1": 1}


@pytest.mark.parametrize(("path", "body", "new"), OUTPUT_REQUESTS)
def test_outputs_hardware_fails_and_the_disk_fills_before_the_roll_back(
    device: Device, disk: Disk, path: str, body: dict[str, Any], new: dict[str, int]
) -> None:
    assert "result" in device.agent.request("io/control", {"io.DO1": 1})
    device.h.advance(5.0)
    device.io.fail = True
    device.io.on_failure = lambda: setattr(disk, "full", True)
    resp = device.agent.request(path, body, token="x")
    assert resp["error"] == "device_error"
    assert f"the next start drives {new}" in resp["error_desc"]  # the answer says what will happen ...
    assert restored_outputs_after(device, disk) == new  # ... and it does


def test_outputs_state_file_that_is_a_directory(device: Device, disk: Disk) -> None:
    (device.state_dir / "flexapi" / statefiles.IO_OUTPUTS).mkdir(parents=True)
    resp = device.agent.request("io/control", {"io.DO3": 1})
    assert resp["error"] == "device_error" and resp["error_desc"].startswith("state:")
    assert device.io.applied == []
    (device.state_dir / "flexapi" / statefiles.IO_OUTPUTS).rmdir()
    device.restart(disk)
    device.h.advance(1.0)
    assert device.io.applied == []


def restored_outputs_after(device: Device, disk: Disk) -> dict[str, int]:
    device.restart(disk)
    return restored_outputs(device)


# -- app/control --------------------------------------------------------------------------

HOOK = {"id": "hook", "type": "app hook", "keys": ["app.light"], "wires": [["said"]]}
REFUSE = {
    "id": "refuse",
    "type": "change",
    "rules": [{"t": "set", "p": "refuse", "pt": "msg", "to": "not now", "tot": "str"}],
    "wires": [["hook"]],
}


def app_device(tmp_path: Path, refuse: bool) -> Device:
    hook = {**HOOK, "wait": 2, "wires": [["said", "refuse"]]} if refuse else HOOK
    return Device(tmp_path, [hook, {"id": "said", "type": "helper"}, REFUSE])


def test_app_control_disk_full_before_anything_is_written(tmp_path: Path, disk: Disk) -> None:
    device = app_device(tmp_path, refuse=False)
    try:
        assert "result" in device.agent.request("app/control", {"app.light": 1, "app.wifi_mode_2g": 0})
        device.h.taken("said")
        device.agent.wait_retry()
        disk.full = True
        resp = device.agent.request("app/control", {"app.light": 0, "app.wifi_mode_2g": 1}, token="x")
        assert resp["error"] == "device_error"
        assert device.h.taken("said") == []  # the hook's flow was not told
        result = device.restart(disk).request("app/refresh")["result"]
        assert (result["app.light"], result["app.wifi_mode_2g"]) == (1, 0)
    finally:
        device.close()


def test_app_control_refused_by_the_flow_is_rolled_back(tmp_path: Path, disk: Disk) -> None:
    (tmp_path / "state" / "flexapi").mkdir(parents=True)
    statefiles.save(tmp_path / "state", statefiles.APP, {"app.light": 1})
    device = app_device(tmp_path, refuse=True)
    try:
        resp = device.agent.request("app/control", {"app.light": 0}, token="x")
        assert (resp["error"], resp["error_desc"]) == ("device_error", "app.light: not now")
        assert device.restart(disk).request("app/refresh")["result"]["app.light"] == 1
    finally:
        device.close()


def test_app_control_refused_and_the_disk_fills_before_the_roll_back(tmp_path: Path, disk: Disk) -> None:
    device = app_device(tmp_path, refuse=True)
    try:
        disk.fills_after = 1  # the change is written, its roll-back is not
        resp = device.agent.request("app/control", {"app.light": 0}, token="x")
        assert resp["error"] == "device_error" and "the next start loads" in resp["error_desc"]
        assert "'app.light': 0" in resp["error_desc"]
        assert device.restart(disk).request("app/refresh")["result"]["app.light"] == 0
    finally:
        device.close()


# -- every set ----------------------------------------------------------------------------


@pytest.mark.parametrize("group", TIMED)
def test_every_set_disk_full_is_device_error_and_keeps_the_old_settings(device: Device, disk: Disk, group: str) -> None:
    assert device.agent.request(f"{group}/set", {"interval": 25})["result"] == {"interval": 25}
    device.agent.wait_retry()
    disk.full = True
    resp = device.agent.request(f"{group}/set", {"interval": 40}, token="x")
    assert resp["error"] == "device_error" and "No space left" in resp["error_desc"]
    node = {"userdata": "flexapi-userdata"}.get(group, f"group-{group}")
    assert device.h.node(node).settings.interval == 25  # type: ignore[attr-defined]
    device.restart(disk)
    assert device.h.node(node).settings.interval == 25  # type: ignore[attr-defined]


def test_custom_group_set_disk_full(device: Device, disk: Disk) -> None:
    create = {"settings": [{"group_name": "trip", "interval": 20, "interest": {"io.AI1": ""}}]}
    assert "result" in device.agent.request("group/set", create)
    disk.full = True
    assert device.agent.request("trip/set", {"interval": 40}, token="x")["error"] == "device_error"
    agent = device.restart(disk)
    wait_until(lambda: "flexapi-custom-trip" in device.h.runtime.nodes, what="custom group back")
    assert agent.request("group/get")["result"][0]["interval"] == 20


# -- group/set ----------------------------------------------------------------------------

DOOR_IN = {"id": "door-in", "type": "mqtt in", "topic": "v1/dev1/door/refresh", "wires": [[]]}
KEEP = {"settings": [{"group_name": "keep", "interest": {"io.AI1": ""}}]}
DOOR = {"settings": [{"group_name": "door", "interest": {"io.AI2": ""}}]}


def test_group_set_disk_full(device: Device, disk: Disk) -> None:
    assert "result" in device.agent.request("group/set", KEEP)
    device.agent.wait_retry()
    disk.full = True
    assert device.agent.request("group/set", DOOR, token="x")["error"] == "device_error"
    assert [g["group_name"] for g in device.restart(disk).request("group/get")["result"]] == ["keep"]


def test_group_set_the_graph_refuses_and_the_file_is_rolled_back(tmp_path: Path, disk: Disk) -> None:
    device = Device(tmp_path, [DOOR_IN])  # a user flow took door/refresh: a custom group "door" cannot exist
    try:
        assert "result" in device.agent.request("group/set", KEEP)
        device.agent.wait_retry()
        resp = device.agent.request("group/set", DOOR, token="x")
        assert resp["error"] == "invalid_parameter" and "door/refresh" in resp["error_desc"]
        assert "rolled back" not in resp["error_desc"]
        assert [g["group_name"] for g in device.restart(disk).request("group/get")["result"]] == ["keep"]
    finally:
        device.close()


def test_group_set_the_graph_refuses_and_the_disk_fills_before_the_roll_back(tmp_path: Path, disk: Disk) -> None:
    device = Device(tmp_path, [DOOR_IN])
    try:
        disk.fills_after = 1
        resp = device.agent.request("group/set", DOOR, token="x")
        assert "the next start runs ['door']" in resp["error_desc"]
        device.extra = []  # the user removed the flow that blocked it
        agent = device.restart(disk)
        assert [g["group_name"] for g in agent.request("group/get")["result"]] == ["door"]
    finally:
        device.close()


# -- user data ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{"insert": {"userdata.b": 2}}, {"update": {"userdata.a": 9}}, {"delete": {"userdata.a": ""}}],
    ids=["insert", "update", "delete"],
)
def test_userdata_operations_disk_full(device: Device, disk: Disk, body: dict[str, Any]) -> None:
    assert "result" in device.agent.request("userdata/set", {"insert": {"userdata.a": 1}})
    device.agent.wait_retry()
    disk.full = True
    assert device.agent.request("userdata/set", body, token="x")["error"] == "device_error"
    assert device.agent.store["userdata.a"] == 1 and "userdata.b" not in device.agent.store
    assert device.restart(disk).request("userdata/refresh")["result"] == {"userdata.a": 1}
