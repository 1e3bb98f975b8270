"""``flexapi dtc detector``: OBDII_DTC_<code>, once for each trouble code that appears."""

from __future__ import annotations

import re
from typing import Any

from flowengine.logthrottle import LogThrottle
from flowengine.message import Msg
from flowengine.node import NodeConfig
from flowengine.state import write_json_off_loop
from nodes.flexapi import statefiles
from nodes.flexapi.detector_base import DetectorNode
from nodes.flexapi.event_notice import DTC_PREFIX

#: ``msg.topic`` of the obd source's trouble code messages: ``{payload: {codes: [...], desc: {code: text}}}``.
DTC_TOPIC = "obd/dtc"
#: The codes already raised, kept so a restart does not raise them again.
SEEN_FILE = "dtc_seen.json"
CODE = re.compile(r"[A-Za-z0-9_]{1,32}")


class DtcDetectorNode(DetectorNode[NodeConfig]):
    """Raises ``OBDII_DTC_<code>`` (fields ``dtc``, ``desc``) for each code that was not stored before.

    Wire it from the obd source's trouble code output (``obd/dtc`` messages with the
    whole list of stored codes). The codes it has raised are durable
    (``dtc_seen.json``); a code that disappears is forgotten, so it raises again if it
    comes back.
    """

    Config = NodeConfig
    event_names = ("OBDII_DTC",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        stored = statefiles.load(self.runtime.state_dir, SEEN_FILE, [])
        self.seen: list[str] = [c for c in stored if isinstance(c, str)] if isinstance(stored, list) else []
        self._log = LogThrottle(self.log)

    async def on_input(self, msg: Msg) -> None:  # type: ignore[override]
        if msg.get("topic") != DTC_TOPIC or not self.enabled:
            return
        codes, desc = self._codes(msg.get("payload"))
        for code in codes:
            if code not in self.seen:
                self.raise_event(f"{DTC_PREFIX}{code}", "OBDII_DTC", dtc=code, desc=str(desc.get(code, "")))
        if codes != self.seen:
            self.seen = codes
            if self.runtime.state_dir is not None:
                await write_json_off_loop(statefiles.flexapi_dir(self.runtime.state_dir) / SEEN_FILE, codes)
        self.status("green", "dot", f"{len(codes)} stored code(s)")

    def _codes(self, payload: Any) -> tuple[list[str], dict[str, Any]]:
        if not isinstance(payload, dict) or not isinstance(payload.get("codes"), list):
            self._log.warning("shape", "ignored an obd/dtc message without a codes list")
            return list(self.seen), {}
        codes: list[str] = []
        for code in payload["codes"]:
            if not isinstance(code, str) or not CODE.fullmatch(code):
                self._log.warning("code", "ignored trouble code %r: not 1-32 letters, digits or '_'", code)
            elif code not in codes:
                codes.append(code)
        desc = payload.get("desc")
        return codes, desc if isinstance(desc, dict) else {}
