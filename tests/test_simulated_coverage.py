"""In --simulate, every Appendix A parameter has a valid value, except the documented few.

Readiness monitors differ between spark and compression engines (PID 01 has different
bits for each), so both simulated engines run; together they cover every key.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from flowengine.config import DeviceConfig
from flowengine.testing import FlowHarness
from nodes.flexapi.params import ALL_PARAMS as PARAMS  # every revision's keys: sources speak the newest
from nodes.flexapi.params import conforms

DEFAULT_FLOW = Path(__file__).resolve().parents[1] / "flows" / "default.json"

#: Keys no simulated source fills, and why (see docs/sources/simulation.md).
NOT_FROM_SOURCES = {
    "obd.brake_prim_press": "marked unavailable in the reference",
    "obd.brake_sec_press": "marked unavailable in the reference",
    "app.wifi_mode_2g": "app state, answered by app/refresh",
    "app.wifi_mode_5g": "app state, answered by app/refresh",
    **{f"1-wire.temp{n}_{p}": "the simulated bus has two sensors" for n in (3, 4) for p in ("data", "id", "name")},
    **{f"1-wire.rom_code{n}": "the simulated bus has one ROM-code device" for n in (2, 3, 4)},
}
DIESEL_ONLY = {"obd.b_p_c_s_mon", "obd.d_e_f_vol", "obd.dpf_mon", "obd.n_c_mon", "obd.nmhc_mon", "obd.pf_mon"}


def valid_keys(engine: str, tmp_path: Path, wanted: set[str]) -> set[str]:
    """Keys that had a valid value of the right type and range, until ``wanted`` is covered (or 20 s)."""
    sources = [n for n in json.loads(DEFAULT_FLOW.read_text()) if n["type"].endswith(" source")]
    for node in sources:
        node["wires"] = [["sink"]]
    device = DeviceConfig.model_validate(
        {"simulate": True, "state_dir": str(tmp_path), "sources": {"vehicle": {"engine": engine}}}
    )
    seen: set[str] = set()
    with FlowHarness(state_dir=tmp_path, device=device) as h:
        h.deploy([*sources, {"id": "sink", "type": "helper"}])
        deadline = time.monotonic() + 20
        while not wanted <= seen and time.monotonic() < deadline:
            for key, value in h.one("sink", timeout=10)["payload"].items():
                if value is not None and key in PARAMS and conforms(PARAMS[key], value):
                    seen.add(key)
    return seen


@pytest.mark.slow
def test_every_parameter_is_filled_by_one_of_the_simulated_engines(tmp_path: Path) -> None:
    expected = set(PARAMS) - set(NOT_FROM_SOURCES)
    spark = valid_keys("spark", tmp_path / "spark", expected - DIESEL_ONLY)
    diesel = valid_keys("compression", tmp_path / "diesel", DIESEL_ONLY)
    assert sorted(expected - DIESEL_ONLY - spark) == []
    assert sorted(DIESEL_ONLY - diesel) == []
