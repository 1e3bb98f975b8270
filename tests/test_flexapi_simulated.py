"""Every key the sources emit in simulate mode is an Appendix A parameter with the table's JSON type and range."""

from __future__ import annotations

import json
from pathlib import Path

from flowengine.config import DeviceConfig
from flowengine.testing import FlowHarness
from nodes.flexapi.params import ALL_PARAMS as PARAMS  # every revision's keys: sources speak the newest
from nodes.flexapi.params import conforms

DEFAULT_FLOW = Path(__file__).resolve().parents[1] / "flows" / "default.json"


def test_simulated_source_values_match_the_parameter_table(tmp_path: Path) -> None:
    sources = [n for n in json.loads(DEFAULT_FLOW.read_text()) if n["type"].endswith(" source")]
    for node in sources:
        node["wires"] = [["sink"]]
    device = DeviceConfig.model_validate({"simulate": True, "state_dir": str(tmp_path)})
    with FlowHarness(state_dir=tmp_path, device=device) as h:
        h.deploy([*sources, {"id": "sink", "type": "helper"}])
        seen: dict[str, list[object]] = {}
        topics: set[str] = set()
        while len(topics) < len(sources):
            msg = h.one("sink", timeout=10)
            topics.add(msg["topic"])
            for key, value in msg["payload"].items():
                seen.setdefault(key, []).append(value)
    unknown = sorted(k for k in seen if k not in PARAMS)
    assert unknown == []
    wrong = {k: v for k, values in seen.items() for v in values if not conforms(PARAMS[k], v)}
    assert wrong == {}
    covered = {PARAMS[k].prefix for k in seen}
    assert covered == {"gnss", "obd", "io", "motion", "modem1", "cellular1", "sysinfo", "1-wire"}
