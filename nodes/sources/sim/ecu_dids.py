"""The simulated ECU's manufacturer DIDs: vehicle quantities encoded for UDS ReadDataByIdentifier (ECU side).

The ECU serves whatever ``key -> DidSpec`` table the OBD source is configured with, so a
custom ``[sources.obd.dids]`` table works under ``--simulate`` too. A DID whose key the
model has no quantity for gets the negative response ``7F 22 31`` (request out of range),
as a real ECU answers an unknown identifier. Encoding is the inverse of the spec's scaling,
written here independently of the decoder, and saturates at the raw range.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from nodes.sources.obd.dids import DidSpec
from nodes.sources.sim.vehicle import VehicleState

RDBI, RDBI_REPLY, NEGATIVE = 0x22, 0x62, 0x7F
NRC_BAD_LENGTH, NRC_OUT_OF_RANGE = 0x13, 0x31

#: FlexAPI key -> the model quantity the ECU reports for it.
QUANTITIES: dict[str, Callable[[VehicleState], float]] = {
    "obd.brake": lambda s: float(s.brake),
    "obd.parking": lambda s: float(s.parking_brake),
    "obd.s_w_angle": lambda s: s.steering_rad,
    "obd.max_avl_torque": lambda s: s.max_torque_pct,
    "obd.c_s_a_s_mon": lambda s: float(s.monitors_complete["c_s_a_s"]),
}


def encode_did(spec: DidSpec, value: float) -> bytes:
    """The data record for ``value``: ``round((value - offset) / scale)``, saturated to the raw range."""
    bits = 8 * spec.bytes
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if spec.signed else (0, (1 << bits) - 1)
    raw = max(low, min(high, round((value - spec.offset) / spec.scale)))
    return raw.to_bytes(spec.bytes, "big", signed=spec.signed)


class DidServer:
    """Answers ``22 <did>`` requests from the vehicle state with a ``key -> DidSpec`` table."""

    def __init__(self, table: Mapping[str, DidSpec]) -> None:
        self.by_did = {spec.did: (key, spec) for key, spec in table.items() if key in QUANTITIES}

    def respond(self, request: bytes, state: VehicleState) -> bytes:
        """``62 <did> <record>`` or ``7F 22 <NRC>``."""
        if len(request) != 3:
            return bytes([NEGATIVE, RDBI, NRC_BAD_LENGTH])
        entry = self.by_did.get(request[1] << 8 | request[2])
        if entry is None:
            return bytes([NEGATIVE, RDBI, NRC_OUT_OF_RANGE])
        key, spec = entry
        return bytes([RDBI_REPLY, request[1], request[2]]) + encode_did(spec, QUANTITIES[key](state))
