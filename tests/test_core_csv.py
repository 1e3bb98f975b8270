"""csv: the RFC 4180 codec on golden data from Node-RED's parser, and the node both ways."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flowengine.errors import FlowConfigError
from flowengine.testing import FlowHarness
from nodes.core import csvcodec

#: Made by running each text and options through the CSV parser Node-RED 4.1 ships (parsers/lib/csv).
GOLDEN = json.loads((Path(__file__).parent / "data" / "csv_golden.json").read_text())


@pytest.mark.parametrize("case", GOLDEN, ids=[repr(c["text"][:24]) for c in GOLDEN])
def test_parses_as_node_red(case: dict[str, Any]) -> None:
    options = case["options"]
    parsed = csvcodec.parse(case["text"], options.get("separator", ","), cursor=options.get("cursor", 0))
    if options.get("dataHasHeaderRow", True):
        headers, rows = (list(parsed.rows[0]) if parsed.rows else []), parsed.rows[1:]
    else:
        headers, rows = [f"col{i + 1}" for i in range(len(parsed.rows[0]))], parsed.rows
    data = csvcodec.to_objects(
        rows,
        headers,
        parse_numbers=options.get("parseNumeric", False),
        include_null=options.get("includeNullValues", False),
        include_empty=options.get("includeEmptyStrings", True),
    )
    assert (headers, csvcodec.header_line(headers), data, parsed.cursor) == (
        case["headers"],
        case["header"],
        case["data"],
        case["cursor"],
    )


@pytest.mark.parametrize("text", ['a"b', '"a"b', '"open'])
def test_strict_parsing_refuses_malformed_text(text: str) -> None:
    with pytest.raises(csvcodec.CsvError):
        csvcodec.parse(text, strict=True)


def test_quote_cell() -> None:
    assert [csvcodec.quote_cell(c) for c in ["plain", "a,b", 'say "hi"', "two\nlines"]] == [
        "plain",
        '"a,b"',
        '"say ""hi"""',
        '"two\nlines"',
    ]


def flow(**props: Any) -> list[dict[str, Any]]:
    return [
        {"id": "c", "type": "csv", "z": "t", "spec": "rfc", "wires": [["out"]], **props},
        {"id": "out", "type": "helper", "z": "t", "wires": []},
    ]


def test_rows_become_a_sequence_of_objects(fake: FlowHarness) -> None:
    fake.deploy(flow(temp="t,v"))
    fake.inject("c", {"_msgid": "m1", "payload": "a,1\nb,2.5\n"})
    out = fake.taken("out")
    assert [m["payload"] for m in out] == [{"t": "a", "v": 1}, {"t": "b", "v": 2.5}]
    assert [m["parts"] for m in out] == [{"id": "m1", "index": 0, "count": 2}, {"id": "m1", "index": 1, "count": 2}]
    assert out[0]["columns"] == "t,v"


def test_header_line_and_one_array(fake: FlowHarness) -> None:
    fake.deploy(flow(hdrin=True, multi="mult", strings=False))
    fake.inject("c", payload='name,"n, count"\r\nx,01\r\n')
    msg = fake.taken("out")[0]
    assert (msg["payload"], msg["columns"]) == ([{"name": "x", "n, count": "01"}], 'name,"n, count"')


def test_objects_to_text_with_header_once(fake: FlowHarness) -> None:
    fake.deploy(flow(temp="a,b", hdrout="once", ret="\\n"))
    fake.inject("c", payload=[{"a": 1, "b": "x,y"}, {"a": None, "b": 'q"'}])
    fake.inject("c", payload={"a": 2, "b": True})
    fake.inject("c", {"_msgid": "r", "reset": True, "payload": {"a": 3}})
    assert [m["payload"] for m in fake.taken("out")] == ['a,b\n1,"x,y"\nnull,"q"""\n', "2,true\n", "a,b\n3,\n"]


def test_arrays_to_text(fake: FlowHarness) -> None:
    fake.deploy(flow(sep=";"))
    fake.inject("c", payload=[[1, "a;b"], [2.0, None]])
    assert fake.taken("out")[0]["payload"] == '1;"a;b"\r\n2;null\r\n'


def test_other_payloads_are_errors_and_missing_payload_passes(fake: FlowHarness) -> None:
    catch = {"id": "k", "type": "catch", "z": "t", "wires": [["err"]]}
    fake.deploy([*flow(), catch, {"id": "err", "type": "helper", "z": "t"}])
    fake.inject("c", payload=5)
    fake.inject("c", {"_msgid": "x", "topic": "no payload"})
    assert fake.taken("err")[0]["error"]["message"] == "This node only handles CSV strings or js objects."
    assert [m["topic"] for m in fake.taken("out")] == ["no payload"]


@pytest.mark.parametrize(
    ("props", "field"), [({"spec": ""}, "spec"), ({"temp": 'a"b'}, "temp"), ({"hdrout": "twice"}, "hdrout")]
)
def test_bad_config_is_reported(harness: FlowHarness, props: dict[str, Any], field: str) -> None:
    with pytest.raises(FlowConfigError) as info:
        harness.deploy(flow(**props))
    assert (info.value.problems[0].node_id, info.value.problems[0].field) == ("c", field)


def test_legacy_parser_names_the_fix(harness: FlowHarness) -> None:
    node = {"id": "c", "type": "csv", "z": "t", "wires": []}
    with pytest.raises(FlowConfigError) as info:
        harness.deploy([node])
    assert 'set spec to "rfc"' in info.value.problems[0].message
