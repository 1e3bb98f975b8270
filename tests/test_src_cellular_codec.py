"""AT codecs on recorded modem answers (tests/data/at) with known values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nodes.sources.cellular.codec import (
    Registration,
    modem_values,
    parse_cesq,
    parse_cnum,
    parse_cops,
    parse_csq,
    parse_iccid,
    parse_imei,
    parse_qdsim,
    parse_qeng,
    parse_registration,
    split_fields,
)

DATA = Path(__file__).parent / "data" / "at"


def cases(name: str) -> list[dict]:
    return json.loads((DATA / name).read_text())


@pytest.mark.parametrize("case", cases("registration.json"), ids=lambda c: c["device"])
def test_registration_answers_of_real_modems(case: dict) -> None:
    reading = parse_registration(case["lines"], case["prefix"])
    assert reading == Registration(**case["expect"])


SIGNAL_PARSERS = {"csq": parse_csq, "cesq": parse_cesq, "qeng": parse_qeng}


@pytest.mark.parametrize("case", cases("signal.json"), ids=lambda c: c["device"])
def test_signal_answers_of_real_modems(case: dict) -> None:
    result = SIGNAL_PARSERS[case["command"]](case["lines"])
    assert {k: result[k] for k in case["expect"]} == case["expect"]
    for key, value in case["expect"].items():
        assert type(result[key]) is type(value), key  # JSON types as Appendix A wants them


IDENTITY_PARSERS = {"imei": parse_imei, "iccid": parse_iccid, "cnum": parse_cnum, "cops": parse_cops}


@pytest.mark.parametrize("case", cases("identity.json"), ids=lambda c: c["device"])
def test_identity_answers_of_real_modems(case: dict) -> None:
    result = IDENTITY_PARSERS[case["command"]](case["lines"])
    expected = tuple(case["expect"]) if isinstance(case["expect"], list) else case["expect"]
    assert result == expected


def test_fields_keep_commas_inside_quotes() -> None:
    assert split_fields(' 0,0,"Vodafone, DE",7') == ["0", "0", "Vodafone, DE", "7"]


def test_ec2x_sinr_in_fifth_db_is_converted() -> None:
    line = '+QENG: "servingcell","NOCONN","LTE","FDD",262,01,1A2D00F,123,6300,20,5,5,D2F1,-95,-10,-65,150,-'
    assert parse_qeng([line], "fifth_db")["sinr"] == 10.0
    assert parse_qeng([line], "db")["sinr"] == 150.0


def test_dual_sim_slot_is_one_based() -> None:
    assert parse_qdsim(["+QDSIM: 0"]) == 1
    assert parse_qdsim(["+QDSIM: 1"]) == 2
    assert parse_qdsim([]) is None


def answers(**overrides: list[str] | None) -> dict[str, list[str] | None]:
    base: dict[str, list[str] | None] = {
        "csq": ["+CSQ: 20,99"],
        "creg": ['+CREG: 2,1,"3AC9","0243800E",7'],
        "cereg": ['+CEREG: 2,1,"3AC9","0243800E",7'],
        "cops": ['+COPS: 0,0,"spusu",7'],
        "imei": ["867698041234565"],
        "imsi": ["222881234567890"],
        "iccid": ["+QCCID: 8939880000000000000"],
        "cnum": [],
        "cell": ['+QENG: "servingcell","NOCONN","LTE","FDD",222,88,243800E,20,3350,7,5,5,3AC9,-86,-13,-52,15,-'],
        "sim": None,
    }
    return {**base, **overrides}


def test_one_round_gives_every_modem_value() -> None:
    values = modem_values(answers())
    assert values == {
        "active_sim": None,
        "imei": "867698041234565",
        "imsi": "222881234567890",
        "iccid": "8939880000000000000",
        "phone_num": None,
        "signal_lvl": 20,
        "reg_status": 1,
        "operator": "spusu",
        "network": 3,
        "lac": "3AC9",
        "cell_id": "243800E",
        "rssi": -52,  # the serving cell's RSSI wins over the CSQ estimate (-73)
        "rsrp": -86,
        "rsrq": -13.0,
        "sinr": 15.0,
        "submode": None,  # not on 5G
    }


def test_unregistered_modem_reports_no_operator_or_cell() -> None:
    values = modem_values(answers(creg=["+CREG: 2,2"], cereg=["+CEREG: 2,2"], cops=["+COPS: 0"]))
    assert values["reg_status"] == 2
    assert (values["operator"], values["network"], values["lac"], values["cell_id"]) == (None, 0, None, None)


def test_lte_registration_preferred_over_circuit_switched() -> None:
    values = modem_values(answers(creg=["+CREG: 2,0"], cops=['+COPS: 0,0,"spusu"']))
    assert values["reg_status"] == 1
    assert values["network"] == 3  # from the +CEREG access technology


def test_roaming_sms_only_and_emergency_map_to_appendix_codes() -> None:
    def status(stat: int) -> int | None:
        return modem_values(answers(cereg=[f"+CEREG: 2,{stat}"], creg=None))["reg_status"]

    assert [status(s) for s in (0, 1, 2, 3, 4, 5, 6, 7, 8)] == [0, 1, 2, 3, 4, 5, 1, 5, 4]


def test_refused_commands_leave_only_their_values_unknown() -> None:
    values = modem_values(answers(cell=None, cnum=None, iccid=None))
    assert values["rsrp"] is None and values["iccid"] is None
    assert values["rssi"] == -73  # falls back to +CSQ
    assert values["imei"] == "867698041234565"


EN_DC_CELL = [
    '+QENG: "servingcell","NOCONN"',
    '+QENG: "LTE","FDD",515,03,3359966,1,150,1,5,5,4AA3,-89,-13,-58,16,15,20,-',
    '+QENG:"NR5G-NSA",515,03,832,-76,21,-11,528030,41,8,1',
]
SA_CELL = ['+QENG: "servingcell","NOCONN","NR5G-SA","FDD",310,260,939204254,24,60AA00,126490,71,1,-104,-13,11,0,-']


@pytest.mark.parametrize(
    ("overrides", "network", "submode"),
    [
        ({"cops": ['+COPS: 0,0,"spusu",13']}, 4, "NSA"),  # E-UTRA-NR dual connectivity
        ({"cops": ['+COPS: 0,0,"spusu",11']}, 4, "SA"),  # NR on the 5G core
        ({"cops": ['+COPS: 0,0,"spusu",12']}, 4, "SA"),  # NG-RAN
        ({"cops": ['+COPS: 0,0,"spusu",10']}, 3, None),  # LTE on the 5G core is still LTE
        ({"cell": EN_DC_CELL}, 4, "NSA"),  # COPS says LTE (7); the NR leg shows in +QENG
        ({"cops": ['+COPS: 0,0,"spusu"'], "cell": SA_CELL}, 4, "SA"),
        ({"cops": ['+COPS: 0,0,"spusu",13'], "cereg": ["+CEREG: 2,2"], "creg": ["+CREG: 2,2"]}, 0, None),
    ],
)
def test_5g_network_and_submode(overrides: dict[str, list[str]], network: int, submode: str | None) -> None:
    values = modem_values(answers(**overrides))
    assert (values["network"], values["submode"]) == (network, submode)


def test_standalone_5g_registers_in_the_5g_system_only() -> None:
    values = modem_values(
        answers(
            c5greg=['+C5GREG: 2,1,"00A1B2","0032C4A01",11'],
            cereg=["+CEREG: 2,0"],
            creg=["+CREG: 2,0"],
            cops=['+COPS: 0,0,"T-Mobile",11'],
            cell=SA_CELL,
        )
    )
    assert (values["reg_status"], values["network"], values["submode"]) == (1, 4, "SA")
    assert (values["lac"], values["cell_id"], values["rsrp"]) == ("A1B2", "32C4A01", -104)
