"""The FlexAPI revision a device speaks: one object decides everything that differs between them.

``[flexapi] revision`` (or ``flowengine run --api-revision``) picks it per device;
1.0.8 is the default and behaves exactly as the 1.0.8 reference. Code elsewhere
asks the revision instead of comparing version strings:

- ``params``: the parameter table (which keys a group carries and accepts);
- ``wire_code``: the error code a condition is answered with (1.0.9 names seven
  conditions precisely, 1.0.8 answers them with one of its six codes);
- ``upload_stamps``: ``<group>.ul_ts`` in reserved group reports (1.0.9);
- ``io_control_keys``: what ``io/control`` drives (1.0.9 adds the input pull-ups);
- ``conform``: a value as the revision can say it (1.0.8 has no 5G: ``modem1.network``
  4 is reported as 3, 4G, which a 5G NSA link is anchored on anyway).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flowengine.config import DeviceConfig
from nodes.flexapi.control import INPUT_PULLUP_KEYS, OUTPUT_KEYS
from nodes.flexapi.device_settings import flexapi_settings
from nodes.flexapi.envelope import CONDITIONS, ERROR_CODES, legacy_code
from nodes.flexapi.params import REVISIONS, Param, params_for

DEFAULT_REVISION = "1.0.8"


@dataclass(frozen=True)
class ApiRevision:
    """What one FlexAPI revision says."""

    name: str
    params: Mapping[str, Param]
    precise_errors: bool
    upload_stamps: bool
    io_control_keys: tuple[str, ...]
    #: key -> {value the sources give: the value this revision reports instead}.
    older_values: Mapping[str, Mapping[Any, Any]] = field(default_factory=dict)

    def conform(self, key: str, value: Any) -> Any:
        """``value`` of ``key`` as this revision can report it (sources speak the newest revision)."""
        mapped = self.older_values.get(key)
        return value if mapped is None or value not in mapped else mapped[value]

    def wire_code(self, condition: str) -> str:
        """The error code a condition is answered with in this revision."""
        return condition if self.precise_errors else legacy_code(condition)

    @property
    def error_codes(self) -> tuple[str, ...]:
        return CONDITIONS if self.precise_errors else ERROR_CODES

    def upload_stamp(self, group: str, now: float) -> dict[str, int]:
        """``{<group>.ul_ts: now}`` (integer seconds) where the revision stamps uploads, else nothing."""
        return {f"{group}.ul_ts": int(now)} if self.upload_stamps else {}


API_REVISIONS: dict[str, ApiRevision] = {
    "1.0.8": ApiRevision("1.0.8", params_for("1.0.8"), False, False, OUTPUT_KEYS, {"modem1.network": {4: 3}}),
    "1.0.9": ApiRevision("1.0.9", params_for("1.0.9"), True, True, (*OUTPUT_KEYS, *INPUT_PULLUP_KEYS)),
}
assert tuple(API_REVISIONS) == REVISIONS


def api_revision(device: DeviceConfig) -> ApiRevision:
    """The revision the device config asks for."""
    return API_REVISIONS[flexapi_settings(device).revision]
