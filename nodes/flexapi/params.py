"""Every Appendix A parameter as one table: key, JSON type, range, unit, description, revisions.

The single source for request validation, payload typing, the generated topic
reference and the check of simulated source values. A parameter belongs to the
API revisions that define it (``revisions``); :func:`params_for` gives one
revision's table, :data:`PARAMS` is 1.0.8's and :data:`ALL_PARAMS` every key of any
revision (what the values node accepts from a source).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

#: Appendix A type -> the JSON type on the wire (decision 12: boolean as 0/1).
JSON_TYPES = {
    "int": "integer",
    "float": "number",
    "double": "number",
    "number": "number",
    "boolean": "integer 0/1",
    "string": "string",
}


#: The FlexAPI revisions the agent speaks, oldest first.
REVISIONS = ("1.0.8", "1.0.9")
ONLY_109 = ("1.0.9",)
ONLY_108 = ("1.0.8",)


@dataclass(frozen=True)
class Param:
    """One Appendix A parameter, in the revisions that define it."""

    key: str
    type: str
    description: str
    unit: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    note: str = ""
    example: Any = None
    revisions: tuple[str, ...] = REVISIONS

    @property
    def prefix(self) -> str:
        return self.key.rsplit(".", 1)[0]

    @property
    def json_type(self) -> str:
        return JSON_TYPES[self.type]

    @property
    def is_ts(self) -> bool:
        return self.key.endswith(".ts")

    @property
    def range_text(self) -> str:
        if self.choices:
            return ", ".join(map(str, self.choices))
        if self.low is not None or self.high is not None:
            return f"[{_num(self.low)}, {_num(self.high)}]"
        return ""


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def conforms(param: Param, value: Any) -> bool:
    """True when ``value`` has the parameter's JSON type and lies in its range (None = invalid, allowed)."""
    if value is None:
        return True
    if not _type_ok(param, value):
        return False
    if param.choices and value not in param.choices:
        return False
    if param.low is not None and value < param.low:
        return False
    return not (param.high is not None and value > param.high)


def type_ok(param: Param, value: Any) -> bool:
    """True when ``value`` (not None) has the parameter's JSON type."""
    return value is None or _type_ok(param, value)


def _type_ok(param: Param, value: Any) -> bool:
    if param.type == "string":
        return isinstance(value, str)
    if isinstance(value, bool):
        return False
    if param.type in ("int", "boolean"):
        return isinstance(value, int) and (param.type == "int" or value in (0, 1))
    return isinstance(value, (int, float)) and math.isfinite(value)


def _p(key: str, type_: str, description: str, unit: str = "", rng: tuple[Any, ...] = (), **kw: Any) -> Param:
    low, high = (rng[0], rng[1]) if len(rng) == 2 and not kw.get("choices") else (None, None)
    return Param(key, type_, description, unit, low, high, **kw)


def _ts(prefix: str, what: str, example: int = 1592820539) -> Param:
    return Param(f"{prefix}.ts", "int", f"The last time the {what} info was updated", "s", example=example)


_STATUS01 = (0, 1)

GNSS = [
    _ts("gnss", "GNSS"),
    _p("gnss.latitude", "float", "latitude", "deg", (-90, 90), example=40.232213),
    _p("gnss.longitude", "float", "longitude", "deg", (-180, 180), example=116.34366),
    _p("gnss.altitude", "float", "altitude", "m", example=346.0),
    _p("gnss.speed", "float", "speed", "km/h", (0, None), example=87.6),
    _p("gnss.heading", "float", "heading", "°", (0.0, 360.0), example=234.0),
    _p("gnss.hdop", "float", "Horizontal DOP", example=1.2),
    _p("gnss.pdop", "float", "Position DOP", example=2.1),
    _p("gnss.hacc", "float", "Horizontal accuracy estimate", "m", example=1.0),
    Param(
        "gnss.fix",
        "int",
        "GNSS fix status",
        choices=(0, 1, 2, 3, 4, 5),
        note="0: NoFix; 1: DR Only; 2: 2D; 3: 3D; 4: GNSS+DR; 5: Time Only",
        example=3,
    ),
    _p("gnss.num_sv", "int", "number of satellites used", "", (0, 12), example=7),
    Param("gnss.date", "string", "date", note="format: yy-mm-dd", example="2020-4-17"),
    Param("gnss.time", "string", "time", note="format: hh:mm:ss", example="10:16:21"),
    Param(
        "gnss.type",
        "string",
        "satellite systems in use",
        choices=("Beidou", "GPS+Beidou", "GPS+Glonass", "GPS+Galileo"),
        example="GPS+Beidou",
        revisions=ONLY_109,
    ),
    _p("gnss.acc_heading", "float", "heading accuracy estimate", "deg", (0, 360.0), example=0.5, revisions=ONLY_109),
]

MOTION = [
    _ts("motion", "Motion"),
    *(
        Param(f"motion.{axis}", "float", desc, unit, example=ex)
        for axis, desc, unit, ex in (
            ("ax", "x-axis accelerometer", "g", 0.08),
            ("ay", "y-axis accelerometer", "g", 0.0),
            ("az", "z-axis accelerometer", "g", 1.0),
            ("gx", "x-axis gyroscope", "deg/s", 0.15),
            ("gy", "y-axis gyroscope", "deg/s", 0.03),
            ("gz", "z-axis gyroscope", "deg/s", -0.47),
            ("roll", "roll angle", "deg", -0.65),
            ("pitch", "pitch angle", "deg", 1.03),
            ("yaw", "yaw angle", "deg", 302.49),
        )
    ),
]


def _digital(kind: str, word: str, n: int) -> tuple[Param, Param]:
    """``io.DI{n}``/``io.DO{n}`` and its pull-up, both 0/1."""
    return (
        Param(f"io.{kind}{n}", "int", f"Digital {word} {n}", choices=_STATUS01, note="0: low, 1: high", example=0),
        Param(
            f"io.{kind}{n}_pullup",
            "int",
            f"Digital {word} pullup {n}",
            choices=_STATUS01,
            note="0: down, 1: up",
            example=0,
        ),
    )


IO = [
    _ts("io", "IO"),
    *(_p(f"io.AI{n}", "float", f"Analog Input {n}", "V", (0, 36.0), example=12.0) for n in range(1, 7)),
    *(p for n in range(1, 7) for p in _digital("DI", "Input", n)),
    *(p for n in range(1, 5) for p in _digital("DO", "Output", n)),
    _p("io.power_input", "float", "supply voltage", "V", (0, 36.0), example=12.6, revisions=ONLY_109),
    Param(
        "io.igt_status",
        "int",
        "ignition status",
        choices=_STATUS01,
        note="0: off, 1: on",
        example=1,
        revisions=ONLY_109,
    ),
]

_MONITORS = {
    "mf_mon": "Misfire Monitor Status",
    "f_s_mon": "Fuel System Monitor Status",
    "c_c_mon": "Comprehensive Component Monitor Status",
    "c_mon": "Catalyst Monitor Status",
    "h_c_mon": "Heated Catalyst Monitor Status",
    "e_s_mon": "Evaporative System Monitor Status",
    "s_a_s_mon": "Secondary Air System Monitor Status",
    "a_s_r_mon": "A/C System Refrigerant Monitor Status",
    "e_g_s_mon": "Exhaust Gas Sensor Monitor Status",
    "e_g_s_h_mon": "Exhaust Gas Sensor heater Monitor Status",
    "e_v_s_mon": "EGR/VVT System Monitor Status",
    "c_s_a_s_mon": "Cold Start Aid System Monitor Status",
    "b_p_c_s_mon": "Boost Pressure Control System Monitor Status",
    "dpf_mon": "DPF Monitor Status",
    "n_c_mon": "NOx Catalyst Monitor Status",
    "nmhc_mon": "NMHC Catalyst Monitor Status",
    "o_s_mon": "Oxygen Sensor Monitor Status",
    "o_s_h_mon": "Oxygen Sensor heater Monitor Status",
    "pf_mon": "PF Monitor Status",
}

OBD = [
    _ts("obd", "OBD"),
    Param("obd.vin", "string", "Vehicle Identification Number", example="1HGCM82633A004352"),
    _p("obd.e_load", "double", "Engine Load", "%", (0, 250.0), note="0: stopped, >0: started", example=35.3),
    _p("obd.c_temp", "int", "Engine Coolant Temp", "°C", (-40, 215), example=88),
    _p("obd.rpm", "double", "Engine Speed", "RPM", (0, 16383.75), example=1234.0),
    _p("obd.speed", "int", "Vehicle Speed", "km/h", (0, 255), example=20),
    _p("obd.f_lvl", "double", "Fuel Level", "%", (0, 100.0), example=62.5),
    _p("obd.f_rate", "double", "Fuel Rate", "l/h", (0, 3276.75), example=4.2),
    _p("obd.dtcs", "int", "DTC Count", "", (0, 250), example=0),
    Param("obd.mil", "boolean", "MIL Status", note="0: off, 1: on", example=0),
    _p("obd.b_volt", "double", "Battery Voltage", "V", (0, 3212.75), example=13.8),
    _p("obd.a_temp", "int", "Ambient Air Temp", "°C", (-273, 1734), example=21),
    _p("obd.o_temp", "int", "Engine Oil Temp", "°C", (-273, 1734), example=95),
    _p("obd.up_time", "int", "Engine Start Time", "sec", (0, 65535), example=3600),
    _p("obd.m_dist", "int", "Distance traveled while MIL is Activated", "km", (0, 65535), example=0),
    _p("obd.d_dist", "int", "Distance traveled since DTCs cleared", "km", (0, 65535), example=1200),
    _p("obd.m_time", "int", "Engine run time while MIL activated", "min", (0, 65535), example=0),
    _p("obd.d_time", "int", "Engine run time since DTCs cleared", "min", (0, 65535), example=900),
    _p("obd.f_press", "int", "Fuel Pressure", "kPa", (0, 6425), example=300),
    _p("obd.t_pos", "double", "Throttle Position", "%", (0, 100.0), example=14.5),
    Param("obd.brake", "boolean", "Brake Switch Status", note="0: released, 1: depressed", example=0),
    Param("obd.parking", "boolean", "Parking Brake Switch Status", note="0: not set, 1: set", example=0),
    _p("obd.s_w_angle", "double", "Steering Wheel Angle", "rad", (-31.374, 31.374), example=0.12),
    _p("obd.f_econ", "double", "Fuel Economy", "km/L", (0, 125.5), example=14.2),
    _p("obd.odo", "double", "Odometer", "km", (0, 526385151.875), example=1400.0),
    _p("obd.a_pos", "double", "Accelerator Pedal Position", "%", (0, 100.0), example=18.0),
    _p("obd.t_dist", "double", "trip distance", "km", (0, 526385151.875), example=12.4),
    _p("obd.i_temp", "int", "Intake Manifold Temp", "°C", (-40, 215), example=35),
    _p("obd.i_press", "int", "Intake Manifold Pressure", "kPa", (0, 255), example=101),
    _p("obd.b_press", "int", "Barometric Pressure", "kPa", (0, 255), example=100),
    _p("obd.f_r_press", "int", "Fuel Rail Pressure", "kPa", (0, 65530), example=35000),
    _p("obd.r_torque", "int", "Engine reference Torque", "Nm", (0, 64255), example=400),
    _p("obd.f_torque", "float", "Engine friction Torque", "%", (-125.0, 125.0), example=-10.0),
    _p("obd.max_avl_torque", "float", "Engine Maximum Available Torque", "%", (0, 100.0), example=95.0),
    _p("obd.a_torque", "float", "Engine actual Torque", "%", (-125.0, 125.0), example=30.0),
    _p("obd.d_e_f_vol", "float", "Diesel Exhaust Fluid Volume", "%", (0, 100.0), example=70.0),
    *(
        Param(f"obd.{k}", "int", d, choices=_STATUS01, note="0: not completed, 1: completed", example=1)
        for k, d in _MONITORS.items()
    ),
    Param(
        "obd.brake_prim_press",
        "float",
        "Brake Primary Pressure",
        "kPa",
        note="unavailable",
        example=600.0,
        revisions=ONLY_108,
    ),
    Param(
        "obd.brake_sec_press",
        "float",
        "Brake Secondary Pressure",
        "kPa",
        note="unavailable",
        example=600.0,
        revisions=ONLY_108,
    ),
    Param(
        "obd.status",
        "string",
        "connection to the vehicle bus",
        choices=("Disconnected", "Connecting", "Connected"),
        example="Connected",
        revisions=ONLY_109,
    ),
    Param(
        "obd.protocol", "string", "vehicle protocol", choices=("OBD-II", "J1939"), example="OBD-II", revisions=ONLY_109
    ),
    Param("obd.bitrate", "int", "CAN bit rate", "bit/s", choices=(250000, 500000), example=500000, revisions=ONLY_109),
    Param("obd.iftype", "string", "vehicle bus interface", choices=("CAN",), example="CAN", revisions=ONLY_109),
]

MODEM = [
    _ts("modem1", "modem1", 1598425365),
    Param("modem1.active_sim", "number", "active SIM card", choices=(1, 2), note="1: SIM1, 2: SIM2", example=1),
    Param("modem1.imei", "string", "IMEI code", example="862104021247207"),
    Param("modem1.imsi", "string", "IMSI code", example="460013231603009"),
    Param("modem1.iccid", "string", "ICCID code", example="89860118802836799717"),
    Param("modem1.phone_num", "string", "phone number", example="+8613800000000"),
    Param("modem1.signal_lvl", "number", "signal level", "asu", example=28),
    Param(
        "modem1.reg_status",
        "number",
        "register status",
        choices=(0, 1, 2, 3, 4, 5, 6),
        note="0: not registered; 1: home; 2: searching; 3: denied; 4: unknown; 5: roaming",
        example=1,
    ),
    Param("modem1.operator", "string", "operator", example="46001"),
    Param(
        "modem1.network",
        "number",
        "network type",
        choices=(0, 1, 2, 3),
        note="0: NA, 1: 2G, 2: 3G, 3: 4G",
        example=3,
        revisions=ONLY_108,
    ),
    Param(
        "modem1.network",
        "number",
        "network type",
        choices=(0, 1, 2, 3, 4),
        note="0: NA, 1: 2G, 2: 3G, 3: 4G, 4: 5G",
        example=4,
        revisions=ONLY_109,
    ),
    Param("modem1.submode", "string", "5G mode", choices=("SA", "NSA"), example="NSA", revisions=ONLY_109),
    Param("modem1.lac", "string", "LAC", note="hexadecimal", example="EA00"),
    Param("modem1.cell_id", "string", "Cell ID", note="hexadecimal", example="71CF520"),
    Param("modem1.rssi", "number", "RSSI (Received Signal Strength Indication)", "dBm", example=-65),
    Param("modem1.rsrp", "number", "RSRP (Reference Signal Receiving Power)", "dBm", example=-95),
    Param("modem1.rsrq", "number", "RSRQ (Reference Signal Receiving Quality)", "dB", example=-10),
    Param("modem1.sinr", "number", "SINR (Signal to Interference plus Noise Ratio)", "dB", example=12),
]

CELLULAR = [
    _ts("cellular1", "cellular1 network", 1598425501),
    Param(
        "cellular1.status",
        "number",
        "cellular1 network status",
        choices=(0, 1, 2, 3),
        note="0: destroy, 1: create, 2: down, 3: up",
        example=3,
    ),
    Param("cellular1.ip", "string", "cellular1 ip address", example="10.210.255.168"),
    Param("cellular1.netmask", "string", "cellular1 netmask", example="255.255.255.255"),
    Param("cellular1.gateway", "string", "cellular1 gateway", example="1.1.1.3"),
    Param("cellular1.dns1", "string", "cellular1 dns1", example="119.7.7.7"),
    Param("cellular1.dns2", "string", "cellular1 dns2", example="119.6.6.6"),
    Param("cellular1.up_at", "number", "cellular1 connected timestamp", "s", example=1598424985),
    Param("cellular1.down_at", "number", "cellular1 disconnected timestamp", "s", example=0),
    Param(
        "cellular1.traffic_ts", "int", "The last time the cellular1 traffic info was updated", "s", example=1598425501
    ),
    Param("cellular1.tx_bytes", "int", "TX bytes", "byte", example=120488),
    Param("cellular1.rx_bytes", "int", "RX bytes", "byte", example=34098),
]

SYSINFO = [
    _ts("sysinfo", "system", 1598424935),
    Param("sysinfo.language", "string", "language", note="Chinese, English", example="English"),
    Param("sysinfo.hostname", "string", "hostname", example="VG710"),
    Param("sysinfo.timezone", "string", "timezone", example="UTC-8"),
    Param("sysinfo.model_name", "string", "model name", example="VG710"),
    Param("sysinfo.oem_name", "string", "OEM name", example="inhand"),
    Param("sysinfo.serial_number", "string", "serial number", example="VG7102019052101"),
    Param("sysinfo.firmware_version", "string", "firmware version", example="1.0.0.r13083"),
    Param("sysinfo.bootloader_version", "string", "bootloader version", example="2012.07.r235"),
    Param("sysinfo.product_number", "string", "product number", example="TL01"),
    Param("sysinfo.description", "string", "description", example="www.inhand.com.cn"),
    Param("sysinfo.lan_mac", "string", "MAC address of bridge1 (as on the device label)", example="00:18:05:10:99:66"),
    Param("sysinfo.wlan_mac", "string", "MAC address of 2G WiFi", example="00:18:05:10:99:03"),
    Param("sysinfo.wlan_5g_mac", "string", "MAC address of 5G WiFi", example="00:18:05:10:99:04"),
    Param(
        "sysinfo.power_management_version",
        "string",
        "firmware version of the power board",
        example="VG710-5G-Ga-GD.V2.2.0",
        revisions=ONLY_109,
    ),
]

_WIFI_NOTE = "0: AP, 1: STA, -1: N/A (status only)"
APP = [
    Param(
        "app.wifi_mode_2g",
        "int",
        "2.4G Wi-Fi mode of the WiFiControl app",
        choices=(0, 1, -1),
        note=_WIFI_NOTE,
        example=0,
    ),
    Param(
        "app.wifi_mode_5g",
        "int",
        "5G Wi-Fi mode of the WiFiControl app",
        choices=(0, 1, -1),
        note=_WIFI_NOTE,
        example=0,
    ),
]

ONE_WIRE = [
    _ts("1-wire", "1-wire", 1644560984),
    Param(
        "1-wire.status",
        "string",
        "The connection state of 1-wire bus",
        choices=("Connected", "Disconnected"),
        example="Connected",
    ),
    Param(
        "1-wire.type",
        "string",
        "The type of device on 1-wire bus",
        choices=("Temperature", "ROM Code", "Temperature & ROM Code"),
        example="Temperature & ROM Code",
    ),
    _p("1-wire.temp_num", "int", "The number of temperature sensor devices on 1-wire bus", "", (1, 4), example=2),
    _p("1-wire.rom_num", "int", "The number of registration code devices on 1-wire bus", "", (1, 4), example=1),
    *(
        p
        for n in range(1, 5)
        for p in (
            Param(f"1-wire.temp{n}_data", "float", f"Temperature of sensor {n}", "°C", example=24.56),
            Param(f"1-wire.temp{n}_id", "string", f"ID of temperature sensor {n}", example="aa012029901e7928"),
            Param(
                f"1-wire.temp{n}_name",
                "string",
                f"Custom name of temperature sensor {n}",
                note="optional",
                example="Inside",
            ),
        )
    ),
    *(
        Param(f"1-wire.rom_code{n}", "string", f"Registration code {n}", example="cc00001b559ae001")
        for n in range(1, 5)
    ),
]

_TABLE = (*GNSS, *MOTION, *IO, *OBD, *MODEM, *CELLULAR, *SYSINFO, *APP, *ONE_WIRE)


def params_for(revision: str) -> dict[str, Param]:
    """The parameter table of one API revision, in table order."""
    return {p.key: p for p in _TABLE if revision in p.revisions}


#: The 1.0.8 table (Appendix A of the reference).
PARAMS: dict[str, Param] = params_for("1.0.8")
#: Every key of any revision, with its latest definition (in table order).
ALL_PARAMS: dict[str, Param] = {p.key: p for p in _TABLE}

#: User data keys: ``userdata.<name>`` (decision 8).
USERDATA_KEY = re.compile(r"userdata\.[A-Za-z0-9_.\-]{1,64}")
#: ``io.D0{n}`` (the reference examples' spelling) -> canonical ``io.DO{n}`` (decision 1).
_DO_ALIAS = re.compile(r"io\.D0([1-4])(_pullup)?")


def canonical(key: str) -> str:
    """The canonical spelling of a parameter key (``io.D01`` -> ``io.DO1``)."""
    match = _DO_ALIAS.fullmatch(key)
    return f"io.DO{match.group(1)}{match.group(2) or ''}" if match else key


def lookup(key: str) -> Param | None:
    """The parameter for ``key`` in any revision (alias spellings accepted), or None."""
    return ALL_PARAMS.get(canonical(key))


def is_userdata_key(key: str) -> bool:
    return USERDATA_KEY.fullmatch(key) is not None
