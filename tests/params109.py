"""The FlexAPI 1.0.9 parameters the sources fill, with their types and ranges, for the source tests.

``nodes/flexapi/params.py`` is the one table of what groups carry, per revision; until it
names these keys (and while it gives ``modem1.network`` the 1.0.8 range 0..3), the tests
of the sources and the simulator check their values against this list. It is also the
list the parameter table must agree with.
"""

from __future__ import annotations

from nodes.flexapi.params import PARAMS, Param

NEW_109: dict[str, Param] = {
    p.key: p
    for p in (
        Param("gnss.type", "string", "GNSS type", choices=("Beidou", "GPS+Beidou", "GPS+Glonass", "GPS+Galileo")),
        Param("gnss.acc_heading", "float", "heading accuracy estimate", "°", 0.0, 360.0),
        Param("io.power_input", "float", "supply voltage", "V", 0.0, 36.0),
        Param("io.igt_status", "int", "ignition status", choices=(0, 1), note="0: off, 1: on"),
        Param("modem1.network", "number", "network type", choices=(0, 1, 2, 3, 4), note="4: 5G"),
        Param("modem1.submode", "string", "5G network mode", choices=("SA", "NSA")),
        Param("sysinfo.power_management_version", "string", "firmware of the power board"),
        Param("obd.status", "string", "OBD link status", choices=("Disconnected", "Connecting", "Connected")),
        Param("obd.protocol", "string", "OBD protocol", choices=("OBD-II", "J1939")),
        Param("obd.bitrate", "int", "CAN bitrate", "bit/s", choices=(250_000, 500_000)),
        Param("obd.iftype", "string", "OBD interface type", choices=("CAN",)),
    )
}
#: Every parameter a source may fill (1.0.8 table, with the 1.0.9 additions and ranges).
ALL_PARAMS: dict[str, Param] = {**PARAMS, **NEW_109}
