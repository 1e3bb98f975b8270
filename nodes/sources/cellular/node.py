"""``cellular source``: modem1.* from a modem's AT port, cellular1.* from its network interface.

Hardware settings (device config ``[sources.modem1]``; every one has a default):
``port``, ``baudrate``, ``at_timeout``, ``interface``, ``sys_net``/``proc_net``/
``resolv_conf`` (roots of the OS facts), ``active_sim``, ``sinr_scale``
(``db``, or ``fifth_db`` for modems such as the EC2x that report SINR in 1/5 dB
from -20 dB), ``iccid_commands`` and ``cell_commands`` (tried in order).
Simulated: :class:`~nodes.sources.cellular.sim_modem.SimModem` on a pty and a
fake interface tree, read by the same code.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from nodes.sources.base import SourceNode
from nodes.sources.cellular.codec import SinrScale, modem_values
from nodes.sources.cellular.netif import UP, NetPaths, read_interface

if TYPE_CHECKING:
    from nodes.sources.cellular.port import ATPort
    from nodes.sources.cellular.sim_modem import SimModem
    from nodes.sources.cellular.sim_net import SimNetwork

MODEM_PARAMS = ("active_sim", "imei", "imsi", "iccid", "phone_num", "signal_lvl", "reg_status", "operator",
                "network", "lac", "cell_id", "rssi", "rsrp", "rsrq", "sinr", "submode")  # fmt: skip
CELL_PARAMS = ("status", "ip", "netmask", "gateway", "dns1", "dns2", "up_at", "down_at", "traffic_ts",
               "tx_bytes", "rx_bytes")  # fmt: skip


class CellularSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    port: str = Field(default="/dev/ttyUSB2", min_length=1, description="modem AT port (path or pyserial URL)")
    baudrate: int = Field(default=115200, gt=0)
    at_timeout: float = Field(default=2.0, gt=0, le=60, description="seconds to wait for a final result")
    interface: str = Field(default="wwan0", min_length=1, description="the modem's network interface")
    sys_net: Path = Path("/sys/class/net")
    proc_net: Path = Path("/proc/net")
    resolv_conf: Path = Path("/etc/resolv.conf")
    active_sim: int = Field(default=1, ge=1, le=2, description="reported when the modem cannot tell")
    sinr_scale: SinrScale = "db"
    iccid_commands: list[str] = Field(default=["AT+QCCID", "AT+CCID", "AT+ICCID"], min_length=1)
    cell_commands: list[str] = Field(default=['AT+QENG="servingcell"', "AT+CESQ"], min_length=1)

    def queries(self) -> dict[str, list[str]]:
        return {
            "csq": ["AT+CSQ"], "creg": ["AT+CREG?"], "cereg": ["AT+CEREG?"], "c5greg": ["AT+C5GREG?"],
            "cops": ["AT+COPS?"],
            "imsi": ["AT+CIMI"], "iccid": self.iccid_commands, "cnum": ["AT+CNUM"],
            "cell": self.cell_commands, "sim": ["AT+QDSIM?"],
        }  # fmt: skip


class CellularSource(SourceNode):
    """Polls the modem and the interface every ``interval`` seconds; one payload for both groups."""

    prefixes = ("modem1", "cellular1")
    keys = tuple(f"modem1.{p}" for p in MODEM_PARAMS) + tuple(f"cellular1.{p}" for p in CELL_PARAMS)

    Settings = CellularSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sim_dir: Path | None = None
        self.sim_modem: SimModem | None = None
        self.sim_net: SimNetwork | None = None
        self._link_up: bool | None = None
        self.up_at = 0  # 0 = not seen yet, as the reference's example shows for down_at
        self.down_at = 0

    async def on_start(self) -> None:
        await super().on_start()  # validates the settings into self.hw; the backend task starts at our next await
        self.paths = NetPaths(self.hw.sys_net, self.hw.proc_net, self.hw.resolv_conf)

    async def _start_simulation(self) -> None:
        """A modem on a pty and a fake interface tree (the simulator is imported only here)."""
        vehicle = await self.simulator("nodes.sources.cellular.sim_modem", "nodes.sources.cellular.sim_net")
        from nodes.sources.cellular.sim_modem import SimModem
        from nodes.sources.cellular.sim_net import SimNetwork

        self.sim_dir = Path(tempfile.mkdtemp(prefix="flowengine-cellular-"))
        self.sim_modem = await self.device.call(SimModem(self.sim_dir / "ttyModem", vehicle.state).start)
        self.sim_net = await self.device.call(SimNetwork(self.sim_dir / "root", self.hw.interface).build)
        self.paths = self.sim_net.paths

    async def on_close(self) -> None:
        await super().on_close()
        if self.sim_modem is not None:
            self.sim_modem.stop()  # wakes its thread at once; no wait
        if self.sim_dir is not None:
            shutil.rmtree(self.sim_dir, ignore_errors=True)

    async def run_backend(self) -> None:
        if self.simulated and self.sim_modem is None:
            await self._start_simulation()
        url = str(self.sim_modem.link) if self.sim_modem else self.hw.port
        port = await self.device.call(_open_port, url, self.hw.baudrate, self.hw.at_timeout)
        try:
            session = await self.device.call(_session, port, self.hw.queries())
            while True:
                answers, facts = await self.device.call(self._poll, session)
                self.publish({**self._modem(answers), **self._network(facts)})
                await self.clock.sleep(self.config.interval)  # type: ignore[attr-defined]
        finally:
            self.device.submit(port.close)

    def _poll(self, session: Any) -> tuple[dict[str, list[str] | None], dict[str, Any]]:
        """One reading of the modem and the interface (on the device thread)."""
        return session.poll(), self._read_interface()

    def _modem(self, answers: dict[str, list[str] | None]) -> dict[str, Any]:
        values = modem_values(answers, self.hw.sinr_scale)
        if values["active_sim"] is None:
            values["active_sim"] = self.hw.active_sim
        return {f"modem1.{k}": values[k] for k in MODEM_PARAMS}

    def _read_interface(self) -> dict[str, Any]:
        if self.sim_net is not None:
            self.sim_net.tick()
        return read_interface(self.paths, self.hw.interface)

    def _network(self, facts: dict[str, Any]) -> dict[str, Any]:
        """Interface facts plus the connect/disconnect times this node has seen."""
        now = int(time.time())
        up = facts["status"] == UP
        if up and self._link_up is not True:
            self.up_at = now
        if not up and self._link_up is True:
            self.down_at = now
        self._link_up = up
        facts.update(up_at=self.up_at, down_at=self.down_at, traffic_ts=now if facts["tx_bytes"] is not None else None)
        return {f"cellular1.{k}": facts[k] for k in CELL_PARAMS}


def _open_port(url: str, baudrate: int, timeout: float) -> ATPort:
    from nodes.sources.cellular.port import ATPort  # pyserial only when a modem is opened

    return ATPort(url, baudrate, timeout)


def _session(port: ATPort, queries: dict[str, Any]) -> Any:
    from nodes.sources.cellular.session import ModemSession

    session = ModemSession(port, queries)
    session.setup()
    return session
