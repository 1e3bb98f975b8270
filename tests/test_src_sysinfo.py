"""The sysinfo source on a fake OS tree and on its simulated backend."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flowengine.config import DeviceConfig
from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness
from nodes.sources.sysinfo import facts
from nodes.sources.sysinfo.facts import mac_address, timezone
from nodes.sources.sysinfo.node import SIM_POWER_FIRMWARE, SysinfoSettings, SysinfoSource, read_sysinfo


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "hostname").write_text("gw-0042\n")
    (tmp_path / "serial").write_text("10000000b1c2d3e4\x00")
    for iface, mac in (("eth0", "DC:A6:32:01:02:03"), ("wlan0", "dc:a6:32:01:02:04"), ("dummy0", "00:00:00:00:00:00")):
        (tmp_path / "net" / iface).mkdir(parents=True)
        (tmp_path / "net" / iface / "address").write_text(mac + "\n")
    return tmp_path


def settings(tree: Path, **extra: object) -> dict:
    return {"hostname_file": str(tree / "hostname"), "etc_dir": str(tree / "etc"), "sys_net": str(tree / "net"),
            "serial_files": [str(tree / "missing"), str(tree / "serial")], **extra}  # fmt: skip


def test_facts_from_the_tree(tree: Path) -> None:
    (tree / "etc" / "timezone").write_text("Europe/Vienna\n")
    values = read_sysinfo(SysinfoSettings(**settings(tree, model_name="EG5120", product_number="A01")))
    assert values["sysinfo.hostname"] == "gw-0042" and values["sysinfo.timezone"] == "Europe/Vienna"
    assert values["sysinfo.lan_mac"] == "dc:a6:32:01:02:03"  # first existing of br0, br-lan, eth0
    assert values["sysinfo.wlan_mac"] == "dc:a6:32:01:02:04" and values["sysinfo.wlan_5g_mac"] is None
    assert values["sysinfo.serial_number"] == "10000000b1c2d3e4"
    assert values["sysinfo.model_name"] == "EG5120" and values["sysinfo.product_number"] == "A01"
    assert values["sysinfo.language"] == "English"


def test_timezone_from_localtime_link(tree: Path) -> None:
    os.symlink("/usr/share/zoneinfo/America/Chicago", tree / "etc" / "localtime")
    assert timezone(tree / "etc") == "America/Chicago"


def test_zero_mac_is_not_an_address(tree: Path) -> None:
    assert mac_address(tree / "net", ["dummy0", "wlan0"]) == "dc:a6:32:01:02:04"
    assert mac_address(tree / "net", ["nothing"]) is None


def test_configured_serial_wins(tree: Path) -> None:
    values = read_sysinfo(SysinfoSettings(**settings(tree, serial_number="RB-123")))
    assert values["sysinfo.serial_number"] == "RB-123"


def run_once(device: DeviceConfig, backend: str) -> dict:
    h = FlowHarness(device=device)
    h.deploy(
        [
            {"id": "sys", "type": "sysinfo source", "backend": backend, "interval": 0.05, "wires": [["out"]]},
            {"id": "out", "type": "helper", "wires": []},
        ]
    )
    try:
        return h.one("out")["payload"]
    finally:
        h.close()


def test_node_publishes_every_key(tree: Path) -> None:
    payload = run_once(DeviceConfig(sources={"sysinfo": settings(tree, language="Chinese")}), "hardware")
    assert set(payload) == {*SysinfoSource.keys, "sysinfo.ts"}
    assert payload["sysinfo.language"] == "Chinese" and payload["sysinfo.hostname"] == "gw-0042"


def test_simulated_identity_is_stable() -> None:
    first = run_once(DeviceConfig(simulate=True), "auto")
    second = run_once(DeviceConfig(simulate=True), "auto")
    assert first["sysinfo.hostname"] == "flowengine-sim" and first["sysinfo.timezone"] == "Europe/Berlin"
    assert first["sysinfo.lan_mac"].startswith("02:")
    assert {k: v for k, v in first.items() if k != "sysinfo.ts"} == {
        k: v for k, v in second.items() if k != "sysinfo.ts"
    }


def test_unknown_setting_names_the_field(caplog: pytest.LogCaptureFixture) -> None:
    h = FlowHarness(device=DeviceConfig(sources={"sysinfo": {"modelname": "x"}}))
    with pytest.raises(FlowConfigError, match=r"sources.sysinfo: node sys: modelname"):
        h.deploy([{"id": "sys", "type": "sysinfo source", "wires": []}])
    h.close()


def test_a_machine_id_serial_is_a_keyed_hash_never_the_id_itself(tmp_path: Path) -> None:
    machine_id = "0123456789abcdef0123456789abcdef"
    (tmp_path / "machine-id").write_text(machine_id + "\n")
    serial = facts.serial_number([tmp_path / "missing", tmp_path / "machine-id"])
    assert serial is not None and len(serial) == 16 and machine_id[:8].upper() not in serial
    assert serial == facts.serial_number([tmp_path / "machine-id"])  # stable
    (tmp_path / "machine-id").write_text("fedcba9876543210fedcba9876543210\n")
    assert facts.serial_number([tmp_path / "machine-id"]) != serial
    (tmp_path / "serial-number").write_text("VG7102019052101")
    assert facts.serial_number([tmp_path / "serial-number"]) == "VG7102019052101"  # a real serial is kept


def test_power_board_firmware_from_its_file_or_the_config(tree: Path) -> None:
    (tree / "pm_version").write_text("VG710-5G-Ga-GD.V2.2.0\n")
    from_file = read_sysinfo(SysinfoSettings(**settings(tree, power_management_file=str(tree / "pm_version"))))
    assert from_file["sysinfo.power_management_version"] == "VG710-5G-Ga-GD.V2.2.0"
    configured = SysinfoSettings(
        **settings(tree, power_management_file=str(tree / "pm_version"), power_management_version="PM 3.1")
    )
    assert read_sysinfo(configured)["sysinfo.power_management_version"] == "PM 3.1"
    assert read_sysinfo(SysinfoSettings(**settings(tree)))["sysinfo.power_management_version"] is None
    missing = SysinfoSettings(**settings(tree, power_management_file=str(tree / "nothing")))
    assert read_sysinfo(missing)["sysinfo.power_management_version"] is None


def test_simulated_power_board_reports_its_firmware() -> None:
    payload = run_once(DeviceConfig(simulate=True), "auto")
    assert payload["sysinfo.power_management_version"] == SIM_POWER_FIRMWARE
