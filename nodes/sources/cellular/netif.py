"""The cellular network interface as the OS sees it: state, address, routes, DNS, counters.

Everything is read from files (``/sys/class/net``, ``/proc/net/route``,
``/proc/net/fib_trie``, ``resolv.conf``) under configurable roots, so tests and
simulation read a fake tree through the same code. Parsers are pure functions.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IFF_UP = 0x1
#: Appendix A cellular1.status codes.
DESTROY, CREATE, DOWN, UP = 0, 1, 2, 3


@dataclass(frozen=True)
class Route:
    iface: str
    destination: str
    gateway: str
    mask: str


@dataclass(frozen=True)
class NetPaths:
    """Where the interface facts live; point them at a fake tree in tests."""

    sys_net: Path = Path("/sys/class/net")
    proc_net: Path = Path("/proc/net")
    resolv_conf: Path = Path("/etc/resolv.conf")


def hex_ipv4(text: str) -> str:
    """``/proc/net/route`` addresses are host-order (little-endian) hex: ``0100A8C0`` -> 192.168.0.1."""
    return socket.inet_ntoa(struct.pack("<I", int(text, 16)))


def parse_routes(text: str) -> list[Route]:
    """Rows of ``/proc/net/route`` (header skipped, malformed rows ignored)."""
    routes = []
    for row in text.splitlines()[1:]:
        cols = row.split()
        try:
            routes.append(Route(cols[0], hex_ipv4(cols[1]), hex_ipv4(cols[2]), hex_ipv4(cols[7])))
        except (IndexError, ValueError):
            continue
    return routes


def parse_fib_locals(text: str) -> list[str]:
    """Local IPv4 addresses from ``/proc/net/fib_trie`` (``|-- a.b.c.d`` followed by ``/32 host LOCAL``)."""
    found: list[str] = []
    last = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("|--"):
            last = stripped[3:].strip()
        elif stripped.startswith("/32 host LOCAL") and last and last not in found:
            found.append(last)
    return found


def parse_nameservers(text: str) -> list[str]:
    """``nameserver`` entries of a resolv.conf, in order."""
    servers = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            servers.append(parts[1])
    return servers


def address_on(iface: str, routes: list[Route], local: list[str]) -> tuple[str | None, str | None]:
    """The local address inside a link route of ``iface``, with that route's netmask."""
    for route in routes:
        if route.iface != iface or route.gateway != "0.0.0.0" or route.destination == "0.0.0.0":
            continue
        network = ipaddress.ip_network(f"{route.destination}/{route.mask}", strict=False)
        for addr in local:
            if ipaddress.ip_address(addr) in network:
                return addr, route.mask
    return None, None


def default_gateway(iface: str, routes: list[Route]) -> str | None:
    for route in routes:
        if route.iface == iface and route.destination == "0.0.0.0" and route.gateway != "0.0.0.0":
            return route.gateway
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None


def _counter(path: Path) -> int | None:
    text = _read(path)
    return int(text) if text and text.strip().isdigit() else None


def admin_up(dev: Path) -> bool | None:
    """IFF_UP of the interface; None when it does not exist."""
    flags = _read(dev / "flags")
    if flags is None:
        return None
    try:
        return bool(int(flags.strip(), 16) & IFF_UP)
    except ValueError:
        return False


def read_interface(paths: NetPaths, iface: str) -> dict[str, Any]:
    """Appendix A ``cellular1.*`` facts (without prefix and without timestamps).

    Status: 0 destroy (no such interface), 2 down (administratively down),
    1 create (up, no address yet), 3 up. Addressing is reported only when up.
    """
    dev = paths.sys_net / iface
    up = admin_up(dev)
    routes = parse_routes(_read(paths.proc_net / "route") or "") if up else []
    ip, netmask = (
        address_on(iface, routes, parse_fib_locals(_read(paths.proc_net / "fib_trie") or "")) if up else (None, None)
    )
    dns = parse_nameservers(_read(paths.resolv_conf) or "") if ip else []
    return {
        "status": DESTROY if up is None else DOWN if not up else UP if ip else CREATE,
        "ip": ip,
        "netmask": netmask,
        "gateway": default_gateway(iface, routes) if ip else None,
        "dns1": dns[0] if dns else None,
        "dns2": dns[1] if len(dns) > 1 else None,
        "tx_bytes": _counter(dev / "statistics" / "tx_bytes"),
        "rx_bytes": _counter(dev / "statistics" / "rx_bytes"),
    }
