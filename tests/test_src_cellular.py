"""The cellular source through its real transports: a modem on a pty, interface facts in a fake tree."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from flowengine.config import DeviceConfig
from flowengine.errors import DeviceIOError, FlowConfigError
from flowengine.testing import FlowHarness
from nodes.sources.cellular.netif import CREATE, DESTROY, DOWN, UP, NetPaths, parse_routes, read_interface
from nodes.sources.cellular.node import CellularSource
from nodes.sources.cellular.port import ATPort, ModemCommandError
from nodes.sources.cellular.sim_modem import SimModem
from nodes.sources.cellular.sim_net import SimNetwork
from nodes.sources.sim.vehicle import Vehicle


@pytest.fixture
def modem(tmp_path: Path) -> Iterator[SimModem]:
    sim = SimModem(tmp_path / "ttyModem", Vehicle().state).start()
    yield sim
    sim.stop()


@pytest.fixture
def net(tmp_path: Path) -> SimNetwork:
    return SimNetwork(tmp_path / "root").build()


def start(settings: dict, backend: str = "hardware", interval: float = 0.05) -> FlowHarness:
    device = DeviceConfig(sources={"modem1": {"at_timeout": 0.3, **settings}})
    h = FlowHarness(device=device)
    node = {"id": "cell", "type": "cellular source", "backend": backend, "interval": interval, "wires": [["out"]]}
    h.deploy([node, {"id": "out", "type": "helper", "wires": []}])
    return h


def net_settings(n: SimNetwork) -> dict:
    return {"sys_net": str(n.paths.sys_net), "proc_net": str(n.paths.proc_net), "resolv_conf": str(n.paths.resolv_conf)}


# -- the interface reader on a fake tree ---------------------------------------------------


def test_interface_facts_from_fake_tree(net: SimNetwork) -> None:
    facts = read_interface(net.paths, "wwan0")
    assert facts["status"] == UP
    assert (facts["ip"], facts["netmask"], facts["gateway"]) == ("10.64.12.34", "255.255.255.252", "10.64.12.33")
    assert (facts["dns1"], facts["dns2"]) == ("10.74.210.210", "10.74.210.211")
    assert facts["tx_bytes"] == net.tx and facts["rx_bytes"] == net.rx


def test_interface_states(net: SimNetwork, tmp_path: Path) -> None:
    assert read_interface(net.paths, "wwan1")["status"] == DESTROY
    (net.paths.sys_net / "wwan0" / "flags").write_text("0x1090\n")
    assert read_interface(net.paths, "wwan0")["status"] == DOWN
    (net.paths.sys_net / "wwan0" / "flags").write_text("0x1091\n")
    (net.paths.proc_net / "fib_trie").write_text("Main:\n")
    facts = read_interface(net.paths, "wwan0")
    assert facts["status"] == CREATE and facts["ip"] is None and facts["dns1"] is None


def test_route_table_rows() -> None:
    text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    text += "eth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\nbroken row\n"
    [route] = parse_routes(text)
    assert (route.iface, route.destination, route.gateway, route.mask) == ("eth0", "0.0.0.0", "192.168.2.1", "0.0.0.0")


def test_missing_tree_gives_unknown_values(tmp_path: Path) -> None:
    facts = read_interface(NetPaths(tmp_path / "a", tmp_path / "b", tmp_path / "c"), "wwan0")
    assert facts == {"status": DESTROY, "ip": None, "netmask": None, "gateway": None, "dns1": None, "dns2": None,
                     "tx_bytes": None, "rx_bytes": None}  # fmt: skip


# -- the AT port on a pty ------------------------------------------------------------------


def test_port_collects_answer_and_skips_echo(modem: SimModem) -> None:
    port = ATPort(str(modem.link), timeout=1.0)
    try:
        assert port.command("AT+CGSN") == [SimModem.IMEI]  # echo is on after power-up
        with pytest.raises(ModemCommandError, match="AT\\+CLAC"):
            port.command("AT+CLAC")
    finally:
        port.close()
        port.close()  # idempotent


def test_port_survives_line_noise_before_an_answer(modem: SimModem) -> None:
    port = ATPort(str(modem.link), timeout=1.0)
    try:
        modem.garbage(200)
        assert port.command("AT+CIMI") == [SimModem.IMSI]
    finally:
        port.close()


def test_silent_modem_times_out(modem: SimModem) -> None:
    port = ATPort(str(modem.link), timeout=0.2)
    modem.silent = True
    try:
        with pytest.raises(DeviceIOError, match="did not answer AT"):
            port.command("AT")
    finally:
        port.close()


def test_missing_port_is_a_device_error(tmp_path: Path) -> None:
    with pytest.raises(DeviceIOError, match="cannot open modem port"):
        ATPort(str(tmp_path / "nothing"))


# -- the node --------------------------------------------------------------------------------


def test_node_publishes_modem_and_network_in_one_payload(modem: SimModem, net: SimNetwork) -> None:
    h = start({"port": str(modem.link), **net_settings(net)})
    try:
        payload = h.one("out")["payload"]
    finally:
        h.close()
    assert set(payload) == {*CellularSource.keys, "modem1.ts", "cellular1.ts"}
    assert payload["modem1.imei"] == SimModem.IMEI and payload["modem1.operator"] == "Telekom.de"
    assert payload["modem1.reg_status"] == 1 and payload["modem1.active_sim"] == 1
    assert (payload["modem1.network"], payload["modem1.submode"]) == (4, "NSA")  # the default seed starts on EN-DC
    assert isinstance(payload["modem1.rsrp"], int) and isinstance(payload["modem1.sinr"], float)
    assert payload["cellular1.status"] == UP and payload["cellular1.ip"] == "10.64.12.34"
    assert payload["cellular1.up_at"] == payload["cellular1.ts"] and payload["cellular1.down_at"] == 0
    assert isinstance(payload["modem1.ts"], int) and payload["cellular1.traffic_ts"] is not None


@pytest.mark.parametrize("fault", ["silent", "garbage", "hangup"])
def test_modem_faults_make_values_invalid_then_recover(modem: SimModem, net: SimNetwork, fault: str) -> None:
    h = start({"port": str(modem.link), **net_settings(net)})
    try:
        assert h.one("out")["payload"]["modem1.imei"] == SimModem.IMEI
        if fault == "silent":
            modem.silent = True
        elif fault == "hangup":
            modem.hangup()
        else:
            modem.silent = True  # the modem babbles instead of answering
            for _ in range(10):
                modem.garbage(100)
        invalid = h.first_payload("out", lambda p: p["modem1.imei"] is None)
        assert all(invalid[k] is None for k in CellularSource.keys)
        if fault == "hangup":
            modem.restore()
        modem.silent = False
        recovered = h.first_payload("out", lambda p: p["modem1.imei"] is not None)
        assert recovered["modem1.rsrp"] is not None and recovered["cellular1.ip"] == "10.64.12.34"
    finally:
        h.close()


def test_link_going_down_is_stamped(modem: SimModem, net: SimNetwork) -> None:
    h = start({"port": str(modem.link), **net_settings(net)})
    try:
        h.one("out")
        (net.paths.sys_net / "wwan0" / "flags").write_text("0x1090\n")
        down = h.first_payload("out", lambda p: p["cellular1.status"] == DOWN)
        assert down["cellular1.down_at"] > 0 and down["cellular1.ip"] is None
    finally:
        h.close()


def test_simulated_backend_uses_a_pty_and_fake_tree() -> None:
    h = start({}, backend="simulated")
    try:
        payload = h.one("out")["payload"]
        node = h.node("cell")
        link = node.sim_modem.link
        assert os.path.realpath(link).startswith("/dev/pts/")
        assert payload["modem1.cell_id"] is not None and -125 < payload["modem1.rsrp"] < -60
    finally:
        h.close()
    assert not link.exists()  # the temp dir is gone with the node


def test_bad_settings_are_reported_with_their_fields() -> None:
    device = DeviceConfig(sources={"modem1": {"baudrate": -1, "sinr_scale": "percent", "colour": "red"}})
    h = FlowHarness(device=device)
    with pytest.raises(FlowConfigError) as info:
        h.deploy([{"id": "cell", "type": "cellular source", "wires": []}])
    h.close()
    text = str(info.value)
    assert "sources.modem1: node cell: baudrate" in text
    assert "sources.modem1: node cell: sinr_scale" in text and "colour" in text


# -- 5G: network 4 and submode SA/NSA (FlexAPI 1.0.9) ------------------------------------------


@pytest.mark.parametrize(("radio", "network", "submode"), [("LTE", 3, None), ("NSA", 4, "NSA"), ("SA", 4, "SA")])
def test_simulated_modem_answers_as_a_5g_modem_does(
    tmp_path: Path, net: SimNetwork, radio: str, network: int, submode: str | None
) -> None:
    state = replace(Vehicle().state(60.0), radio=radio)
    modem = SimModem(tmp_path / "ttyModem5g", lambda: state).start()
    h = start({"port": str(modem.link), **net_settings(net)})
    try:
        payload = h.one("out")["payload"]
    finally:
        h.close()
        modem.stop()
    assert (payload["modem1.network"], payload["modem1.submode"], payload["modem1.reg_status"]) == (network, submode, 1)
    assert payload["modem1.rsrp"] == round(state.rsrp_dbm) and payload["modem1.cell_id"] == f"{state.cell_id:X}"


def test_the_drive_crosses_standalone_non_standalone_and_lte_only_cells() -> None:
    vehicle = Vehicle()
    radios = [vehicle.state(float(t)) for t in range(0, 7200, 10)]
    assert {s.radio for s in radios} == {"SA", "NSA", "LTE"}
    assert all(s.rsrp_dbm <= -107.9 for s in radios if s.radio == "LTE")  # LTE alone where 5G is too weak
    assert all(s.rsrp_dbm >= -108.1 for s in radios if s.radio != "LTE")
