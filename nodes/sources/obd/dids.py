"""Pure UDS ReadDataByIdentifier codec for A.4 keys that have no J1979 Mode 01 PID.

The brake switch, parking brake, steering wheel angle, maximum available torque and the
cold start aid monitor live in manufacturer-specific data identifiers, read with ISO 14229
service 0x22 (positive reply 0x62, negative reply ``7F 22 <NRC>``). Which DID carries
which key, and how its bytes scale, differs per vehicle: ``[sources.obd.dids]`` maps a
key to a :class:`DidSpec`; :data:`DEFAULT_DIDS` is the table used when none is given.
Values get the Appendix A type of their key and must lie in its range. No I/O here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nodes.flexapi.params import PARAMS, conforms

RDBI = 0x22
RDBI_REPLY = 0x62
NEGATIVE_REPLY = 0x7F
NRC_SERVICE_NOT_SUPPORTED = 0x11
NRC_OUT_OF_RANGE = 0x31
NRC_PENDING = 0x78
#: Negative response codes meaning "this ECU has no such DID": stop asking until reconnect.
ABSENT_NRCS = frozenset({NRC_SERVICE_NOT_SUPPORTED, NRC_OUT_OF_RANGE})
FLOAT_DIGITS = 4


class DidSpec(BaseModel):
    """Where one key lives: ``value = int(bytes[:bytes], big-endian, signed) * scale + offset``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    did: int = Field(ge=0, le=0xFFFF, description="data identifier (16 bit)")
    scale: float = Field(default=1.0, description="units per count; must not be 0")
    offset: float = Field(default=0.0, description="added after scaling")
    bytes: int = Field(default=1, ge=1, le=4, description="big-endian data bytes at the start of the record")
    signed: bool = Field(default=False, description="two's complement raw value")

    @field_validator("scale")
    @classmethod
    def _scale(cls, value: float) -> float:
        if value == 0 or not math.isfinite(value):
            raise ValueError("must be a finite number other than 0")
        return value


#: Placeholders in the manufacturer-specific range (0x0100-0xA5FF); a vehicle's own table replaces them.
#: Scalings follow SAE J1939 (SPN 1807 steering wheel angle, SPN 3357 maximum available torque).
DEFAULT_DIDS: dict[str, DidSpec] = {
    "obd.brake": DidSpec(did=0x4010),
    "obd.parking": DidSpec(did=0x4011),
    "obd.s_w_angle": DidSpec(did=0x4012, bytes=2, scale=1 / 1024, offset=-31.374),
    "obd.max_avl_torque": DidSpec(did=0x4013, scale=0.4),
    "obd.c_s_a_s_mon": DidSpec(did=0x4014),
}


@dataclass(frozen=True, slots=True)
class DidReply:
    """One answer to ``22 <did>``: the data record, or the negative response code."""

    data: bytes | None = None
    nrc: int | None = None

    @property
    def absent(self) -> bool:
        return self.nrc in ABSENT_NRCS

    @property
    def pending(self) -> bool:
        return self.nrc == NRC_PENDING


def check_key(key: str) -> str:
    """A key a DID may fill: any numeric ``obd.*`` parameter of Appendix A."""
    param = PARAMS.get(key)
    if param is None or param.prefix != "obd" or param.is_ts or param.type == "string":
        raise ValueError(f"{key!r} is not a numeric obd.* parameter of Appendix A.4")
    return key


def rdbi_request(did: int) -> bytes:
    """The request payload ``22 <did high> <did low>``."""
    return bytes([RDBI, did >> 8, did & 0xFF])


def parse_rdbi(did: int, payload: bytes) -> DidReply | None:
    """The reply to ``22 <did>`` in ``payload``, None when the payload answers something else."""
    if len(payload) >= 3 and payload[0] == NEGATIVE_REPLY and payload[1] == RDBI:
        return DidReply(nrc=payload[2])
    if len(payload) >= 3 and payload[0] == RDBI_REPLY and (payload[1] << 8 | payload[2]) == did:
        return DidReply(data=bytes(payload[3:]))
    return None


def decode_did(key: str, spec: DidSpec, data: bytes) -> int | float:
    """The A.4 value of ``key`` from a data record; ValueError when short or out of range."""
    if len(data) < spec.bytes:
        raise ValueError(f"{key}: DID 0x{spec.did:04X} needs {spec.bytes} byte(s), got {len(data)}")
    raw = int.from_bytes(data[: spec.bytes], "big", signed=spec.signed)
    value = typed(key, raw * spec.scale + spec.offset)
    if not conforms(PARAMS[key], value):
        raise ValueError(f"{key}: {value} from DID 0x{spec.did:04X} is outside {PARAMS[key].range_text}")
    return value


def typed(key: str, value: float) -> Any:
    """The JSON type of Appendix A: booleans 0/1 (non-zero is 1), ints rounded, floats to 4 digits."""
    kind = PARAMS[key].type
    if kind == "boolean":
        return int(value != 0)
    if kind == "int":
        return round(value)
    return round(value, FLOAT_DIGITS)
