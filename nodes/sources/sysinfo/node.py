"""``sysinfo source``: Appendix A.6 from the OS and the device config ``[sources.sysinfo]``.

OS facts: hostname (``hostname_file``), time zone (``etc_dir``), MAC addresses of
the first existing interface of ``lan_ifaces`` / ``wlan_ifaces`` / ``wlan_5g_ifaces``
(under ``sys_net``), serial number (``serial_files``) unless configured, the power
board's firmware (``power_management_file``) unless configured. Names and versions
come from the config. Simulated: a fake tree with stable made-up MACs.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nodes.sources.base import SourceNode
from nodes.sources.sysinfo.facts import mac_address, read_text, serial_number, timezone

PARAMS = ("language", "hostname", "timezone", "model_name", "oem_name", "serial_number", "firmware_version",
          "bootloader_version", "product_number", "description", "lan_mac", "wlan_mac", "wlan_5g_mac",
          "power_management_version")  # fmt: skip
SIM_POWER_FIRMWARE = "FE-SIM-PM.V1.2.0"


def _own_version() -> str | None:
    try:
        return version("flowengine")
    except PackageNotFoundError:
        return None


class SysinfoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str = "English"
    model_name: str | None = "flowengine gateway"
    oem_name: str | None = "flowengine"
    serial_number: str | None = Field(default=None, description="default: read from serial_files")
    firmware_version: str | None = Field(default_factory=_own_version)
    bootloader_version: str | None = None
    product_number: str | None = None
    description: str | None = "FlexAPI device agent"
    hostname_file: Path = Path("/proc/sys/kernel/hostname")
    etc_dir: Path = Path("/etc")
    sys_net: Path = Path("/sys/class/net")
    serial_files: list[Path] = Field(default=[Path("/proc/device-tree/serial-number"), Path("/etc/machine-id")])
    lan_ifaces: list[str] = Field(default=["br0", "br-lan", "eth0"])
    wlan_ifaces: list[str] = Field(default=["wlan0"])
    wlan_5g_ifaces: list[str] = Field(default=["wlan1"])
    power_management_version: str | None = Field(
        default=None, description="firmware of the power board; default: read from power_management_file"
    )
    power_management_file: Path | None = Field(
        default=None, description="file holding the power board's firmware version (as its driver exposes it)"
    )


class SysinfoSource(SourceNode):
    prefixes = ("sysinfo",)
    keys = tuple(f"sysinfo.{p}" for p in PARAMS)
    Settings = SysinfoSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sim_dir: Path | None = None

    async def on_close(self) -> None:
        await super().on_close()
        if self.sim_dir is not None:
            shutil.rmtree(self.sim_dir, ignore_errors=True)

    async def run_backend(self) -> None:
        facts = self.hw
        if self.simulated:
            facts = await self.device.call(self._simulate, (await self.simulator()).settings.seed)
        while True:
            self.publish(await self.device.call(read_sysinfo, facts))
            await self.clock.sleep(self.config.interval)  # type: ignore[attr-defined]

    def _simulate(self, seed: int) -> SysinfoSettings:
        if self.sim_dir is None:
            self.sim_dir = Path(tempfile.mkdtemp(prefix="flowengine-sysinfo-"))
            self.sim_facts = build_sim_tree(self.sim_dir, self.hw, seed)
        return self.sim_facts


def read_sysinfo(s: SysinfoSettings) -> dict[str, Any]:
    """Every ``sysinfo.*`` value (without ``sysinfo.ts``)."""
    values = {
        "language": s.language, "hostname": read_text(s.hostname_file), "timezone": timezone(s.etc_dir),
        "model_name": s.model_name, "oem_name": s.oem_name,
        "serial_number": s.serial_number or serial_number(s.serial_files),
        "firmware_version": s.firmware_version, "bootloader_version": s.bootloader_version,
        "product_number": s.product_number, "description": s.description,
        "lan_mac": mac_address(s.sys_net, s.lan_ifaces), "wlan_mac": mac_address(s.sys_net, s.wlan_ifaces),
        "wlan_5g_mac": mac_address(s.sys_net, s.wlan_5g_ifaces),
        "power_management_version": s.power_management_version
        or (read_text(s.power_management_file) if s.power_management_file else None),
    }  # fmt: skip
    return {f"sysinfo.{k}": values[k] for k in PARAMS}


def build_sim_tree(root: Path, settings: SysinfoSettings, seed: int) -> SysinfoSettings:
    """A fake OS tree for simulation: hostname, time zone, serial and three interfaces.

    The serial comes from the vehicle seed; MACs are locally administered (02:...)
    and derived from the serial, so one simulated device keeps its identity.
    """
    serial = settings.serial_number or "SIM" + hashlib.sha256(str(seed).encode()).hexdigest()[:9].upper()
    digest = hashlib.sha256(serial.encode()).digest()
    (root / "etc").mkdir(parents=True)
    (root / "hostname").write_text("flowengine-sim\n")
    (root / "etc/timezone").write_text("Europe/Berlin\n")
    (root / "serial").write_text(serial + "\n")
    (root / "power_mcu_version").write_text(SIM_POWER_FIRMWARE + "\n")
    for offset, iface in enumerate(("br0", "wlan0", "wlan1")):
        (root / "net" / iface).mkdir(parents=True)
        mac = bytes([0x02, *digest[:4], (digest[4] + offset) % 256])
        (root / "net" / iface / "address").write_text(":".join(f"{b:02x}" for b in mac) + "\n")
    return settings.model_copy(
        update={
            "bootloader_version": settings.bootloader_version or "sim-boot 1.0",
            "product_number": settings.product_number or "FE-SIM",
            "hostname_file": root / "hostname",
            "etc_dir": root / "etc",
            "sys_net": root / "net",
            "serial_files": [root / "serial"],
            "power_management_file": root / "power_mcu_version",
            "lan_ifaces": ["br0"],
            "wlan_ifaces": ["wlan0"],
            "wlan_5g_ifaces": ["wlan1"],
        }
    )
