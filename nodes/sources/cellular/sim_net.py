"""A simulated cellular network interface: a fake sysfs/procfs tree the real reader parses.

Writes ``sys/class/net/<iface>``, ``proc/net/route``, ``proc/net/fib_trie`` and
``etc/resolv.conf`` under a root directory; :meth:`tick` moves the traffic
counters like a vehicle gateway's telemetry would.
"""

from __future__ import annotations

import random
import socket
import struct
from pathlib import Path

from nodes.sources.cellular.netif import NetPaths

_ROUTE_HEADER = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"


def _hex(address: str) -> str:
    """The host-order hex form ``/proc/net/route`` uses."""
    return f"{struct.unpack('<I', socket.inet_aton(address))[0]:08X}"


class SimNetwork:
    """An LTE data interface with address 10.64.12.34/30 via gateway 10.64.12.33."""

    def __init__(self, root: Path, iface: str = "wwan0", seed: int = 7) -> None:
        self.root = root
        self.iface = iface
        self.rng = random.Random(seed)
        self.tx, self.rx = 180_000, 2_400_000
        self.paths = NetPaths(root / "sys/class/net", root / "proc/net", root / "etc/resolv.conf")

    def build(self) -> SimNetwork:
        dev = self.paths.sys_net / self.iface
        (dev / "statistics").mkdir(parents=True, exist_ok=True)
        self.paths.proc_net.mkdir(parents=True, exist_ok=True)
        self.paths.resolv_conf.parent.mkdir(parents=True, exist_ok=True)
        (dev / "flags").write_text("0x1091\n")
        (dev / "operstate").write_text("unknown\n")
        routes = [("0.0.0.0", "10.64.12.33", "0003", "0.0.0.0"), ("10.64.12.32", "0.0.0.0", "0001", "255.255.255.252")]
        rows = "".join(
            f"{self.iface}\t{_hex(d)}\t{_hex(g)}\t{f}\t0\t0\t0\t{_hex(m)}\t0\t0\t0\n" for d, g, f, m in routes
        )
        (self.paths.proc_net / "route").write_text(_ROUTE_HEADER + rows)
        (self.paths.proc_net / "fib_trie").write_text(
            "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n"
            "     +-- 10.64.12.32/30 2 0 2\n        |-- 10.64.12.32\n           /30 link UNICAST\n"
            "        |-- 10.64.12.34\n           /32 host LOCAL\n"
        )
        self.paths.resolv_conf.write_text("nameserver 10.74.210.210\nnameserver 10.74.210.211\n")
        self.tick()
        return self

    def tick(self) -> None:
        self.tx += self.rng.randrange(200, 4_000)
        self.rx += self.rng.randrange(1_000, 40_000)
        stats = self.paths.sys_net / self.iface / "statistics"
        (stats / "tx_bytes").write_text(f"{self.tx}\n")
        (stats / "rx_bytes").write_text(f"{self.rx}\n")
