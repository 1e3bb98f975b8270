"""The simulated devices in a process of their own, for an agent that runs its hardware backends.

    python -m nodes.sources.sim.standalone DIR [--can udp_multicast|socketcan:vcan0] [--seed N]

Starts every simulated device the sources read and writes ``DIR/device.toml``, the
``[sources.*]`` tables that point the agent's hardware backends at them:

- GNSS receiver and LTE modem on ptys (``DIR/ttyGNSS``, ``DIR/ttyModem``);
- the IMU's IIO tree with its buffered interface (``DIR/iio``), the w1 bus
  (``DIR/w1``), the modem's network interface (``DIR/net``) and the OS facts
  (``DIR/sysinfo``);
- the engine ECU on a CAN bus that crosses processes: python-can's ``udp_multicast``
  (on a group of its own) or a socketcan ``vcan`` interface when the host has one;
- the IO board cannot cross processes (gpiozero's mock pins live in the process that
  opens them): the agent reads gpiozero's mock pin factory, without the ADC.

Run ``flowengine run --config DIR/device.toml`` (without ``--simulate``) and the agent
does only its own work; the simulator's cost shows in this process. It prints
``ready`` when everything is up and runs until SIGTERM or SIGINT (or, with
``--until-stdin-closes``, until its standard input closes: a parent that dies stops it).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from nodes.sources.sim.periodic import PeriodicDevice
from nodes.sources.sim.vehicle import Vehicle, VehicleSettings

#: Seconds between updates of the w1 sensors and the interface counters (read in another process).
SLOW_PERIOD_S = 10.0


class SlowFiles(PeriodicDevice):
    """Rewrites the file trees whose values move slowly (w1 temperatures, traffic counters)."""

    def __init__(self, w1: Any, net: Any) -> None:
        super().__init__("sim-slow-files", SLOW_PERIOD_S)
        self.w1, self.net = w1, net

    def tick(self) -> None:
        self.w1.update()
        self.net.tick()


def can_bus(spec: str) -> tuple[str, str]:
    """``udp_multicast`` (a random group of its own) or ``socketcan:vcan0`` -> (interface, channel)."""
    if spec.startswith("socketcan:"):
        return "socketcan", spec.partition(":")[2]
    rng = random.Random(os.getpid())
    return "udp_multicast", f"239.74.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}"


class Devices:
    """Every simulated device of one vehicle, started in :meth:`start`, stopped in :meth:`stop`."""

    def __init__(self, root: Path, bus: tuple[str, str], seed: int) -> None:
        self.root, self.bus = root, bus
        self.vehicle = Vehicle(VehicleSettings(seed=seed))
        self.parts: list[Any] = []

    def start(self) -> dict[str, dict[str, Any]]:
        """Start the devices; returns the ``[sources.*]`` tables that point at them."""
        from nodes.sources.cellular.sim_modem import SimModem
        from nodes.sources.cellular.sim_net import SimNetwork
        from nodes.sources.onewire.sim_bus import SimW1Bus
        from nodes.sources.sim.ecu import SimulatedEcu
        from nodes.sources.sim.gnss_device import SimulatedReceiver
        from nodes.sources.sim.iio_device import SimulatedImu
        from nodes.sources.sysinfo.node import SysinfoSettings, build_sim_tree

        gnss = self._add(SimulatedReceiver(self.vehicle).start())
        _link(self.root / "ttyGNSS", gnss.port)
        modem = self._add(SimModem(self.root / "ttyModem", self.vehicle.state).start())
        imu = self._add(SimulatedImu(self.vehicle, root=self.root / "iio").start())
        w1 = SimW1Bus(self.root / "w1", self.vehicle.state).build()
        net = SimNetwork(self.root / "net", "wwan0").build()
        self._add(SlowFiles(w1, net)).start_thread()
        interface, channel = self.bus
        self._add(SimulatedEcu(self.vehicle, channel, interface=interface).start())
        facts = build_sim_tree(self.root / "sysinfo", SysinfoSettings(), self.vehicle.settings.seed)
        return {
            "gnss": {"port": str(self.root / "ttyGNSS")},
            "modem1": {"port": str(modem.link), **{k: str(v) for k, v in vars(net.paths).items()}},
            "motion": {"iio_root": str(imu.root), "dev_root": str(imu.dev_root)},
            "1-wire": {"devices_dir": str(w1.devices), "names": {"aa012029901e7928": "Inside"}},
            "obd": {"interface": interface, "channel": channel},
            "io": {"pin_factory": "mock", "ai_channels": []},
            "sysinfo": _sysinfo_table(facts),
        }

    def _add(self, part: Any) -> Any:
        self.parts.append(part)
        return part

    def stop(self) -> None:
        for part in reversed(self.parts):
            part.stop()


def _link(link: Path, target: str) -> None:
    link.unlink(missing_ok=True)
    link.symlink_to(target)


def _sysinfo_table(facts: Any) -> dict[str, Any]:
    keys = ("hostname_file", "etc_dir", "sys_net", "serial_files", "lan_ifaces", "wlan_ifaces", "wlan_5g_ifaces")
    table = {k: getattr(facts, k) for k in keys}
    table["serial_files"] = [str(p) for p in table["serial_files"]]
    return {k: str(v) if isinstance(v, Path) else v for k, v in table.items()}


def to_toml(tables: dict[str, dict[str, Any]]) -> str:
    """The ``[sources.*]`` tables as TOML (strings, lists of strings, and one nested table)."""
    lines = []
    for name, table in tables.items():
        lines.append(f'[sources."{name}"]')
        nested = {k: v for k, v in table.items() if isinstance(v, dict)}
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items() if k not in nested]
        for key, sub in nested.items():
            lines.append(f'[sources."{name}".{key}]')
            lines += [f'"{k}" = {_toml_value(v)}' for k, v in sub.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _stop_at_end_of_input(stop: threading.Event) -> None:
    sys.stdin.read()
    stop.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="where the devices' files and device.toml go")
    parser.add_argument("--can", default="udp_multicast", help="udp_multicast (default) or socketcan:vcan0")
    parser.add_argument("--seed", type=int, default=VehicleSettings().seed, help="the vehicle's seed")
    parser.add_argument("--until-stdin-closes", action="store_true", help="also stop when standard input closes")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    devices = Devices(args.dir, can_bus(args.can), args.seed)
    tables = devices.start()
    (args.dir / "device.toml").write_text(to_toml(tables))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.until_stdin_closes:
        threading.Thread(target=_stop_at_end_of_input, args=(stop,), daemon=True).start()
    print("ready", flush=True)
    stop.wait()
    devices.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
