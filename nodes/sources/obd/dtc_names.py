"""Short descriptions of common generic (SAE-defined, ``x0xxx``) trouble codes.

Sent with the OBD source's trouble-code output so an event can say what a code means.
Manufacturer codes (``P1xxx``...) and codes missing here get ``""``; extend the table
(or map codes in a flow) for a fleet's own vehicles.
"""

from __future__ import annotations

DESCRIPTIONS: dict[str, str] = {
    # fuel and air metering
    "P0100": "Mass air flow circuit malfunction",
    "P0101": "Mass air flow circuit range/performance",
    "P0102": "Mass air flow circuit low input",
    "P0103": "Mass air flow circuit high input",
    "P0106": "Manifold absolute pressure circuit range/performance",
    "P0110": "Intake air temperature circuit malfunction",
    "P0113": "Intake air temperature circuit high input",
    "P0115": "Engine coolant temperature circuit malfunction",
    "P0117": "Engine coolant temperature circuit low input",
    "P0118": "Engine coolant temperature circuit high input",
    "P0121": "Throttle position sensor circuit range/performance",
    "P0128": "Coolant thermostat below regulating temperature",
    "P0130": "O2 sensor circuit malfunction (bank 1 sensor 1)",
    "P0133": "O2 sensor circuit slow response (bank 1 sensor 1)",
    "P0135": "O2 sensor heater circuit malfunction (bank 1 sensor 1)",
    "P0141": "O2 sensor heater circuit malfunction (bank 1 sensor 2)",
    "P0171": "System too lean (bank 1)",
    "P0172": "System too rich (bank 1)",
    "P0174": "System too lean (bank 2)",
    "P0175": "System too rich (bank 2)",
    "P0191": "Fuel rail pressure sensor circuit range/performance",
    # ignition system and misfire
    "P0300": "Random/multiple cylinder misfire detected",
    "P0301": "Cylinder 1 misfire detected",
    "P0302": "Cylinder 2 misfire detected",
    "P0303": "Cylinder 3 misfire detected",
    "P0304": "Cylinder 4 misfire detected",
    "P0305": "Cylinder 5 misfire detected",
    "P0306": "Cylinder 6 misfire detected",
    "P0325": "Knock sensor 1 circuit malfunction (bank 1)",
    "P0335": "Crankshaft position sensor A circuit malfunction",
    "P0340": "Camshaft position sensor circuit malfunction",
    # emission controls
    "P0400": "Exhaust gas recirculation flow malfunction",
    "P0401": "Exhaust gas recirculation flow insufficient",
    "P0420": "Catalyst system efficiency below threshold (bank 1)",
    "P0430": "Catalyst system efficiency below threshold (bank 2)",
    "P0440": "Evaporative emission system malfunction",
    "P0442": "Evaporative emission system small leak detected",
    "P0446": "Evaporative emission system vent control circuit malfunction",
    "P0455": "Evaporative emission system large leak detected",
    "P0456": "Evaporative emission system very small leak detected",
    # speed, idle control and auxiliary inputs
    "P0500": "Vehicle speed sensor malfunction",
    "P0505": "Idle air control system malfunction",
    "P0506": "Idle control system rpm lower than expected",
    "P0507": "Idle control system rpm higher than expected",
    "P0562": "System voltage low",
    "P0563": "System voltage high",
    # computer and transmission
    "P0600": "Serial communication link malfunction",
    "P0700": "Transmission control system malfunction",
    "P0715": "Input/turbine speed sensor circuit malfunction",
    "P0730": "Incorrect gear ratio",
    # diesel after-treatment
    "P2002": "Diesel particulate filter efficiency below threshold (bank 1)",
    "P20EE": "SCR NOx catalyst efficiency below threshold (bank 1)",
    # chassis, body and network
    "C0035": "Left front wheel speed sensor circuit",
    "C0040": "Right front wheel speed sensor circuit",
    "B0001": "Driver frontal stage 1 deployment control",
    "U0001": "High speed CAN communication bus",
    "U0073": "Control module communication bus off",
    "U0100": "Lost communication with engine control module",
    "U0101": "Lost communication with transmission control module",
    "U0121": "Lost communication with anti-lock brake system module",
}
