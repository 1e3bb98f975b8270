"""Generates docs/flexapi-topics.md from the code's own tables: ``python -m nodes.flexapi.docgen``.

Every example response is computed by the same pure functions the agent uses,
from the parameter table's example values, so the reference cannot drift.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from nodes.flexapi import docgen_events
from nodes.flexapi.control import parse_app_control, parse_io_control
from nodes.flexapi.customdefs import parse_group_set
from nodes.flexapi.envelope import ERROR_CODES, MAX_DEPTH, MAX_TOKEN_BYTES, failure, success
from nodes.flexapi.groups import GROUPS, MAX_CUSTOM_GROUPS, MAX_ITEMS, GroupDef
from nodes.flexapi.params import PARAMS
from nodes.flexapi.settings import build_view, effective_interest, parse_settings_change, ts_keys_for
from nodes.flexapi.topics import CONTROL_RETRY_INTERVAL, RETRY_INTERVAL
from nodes.flexapi.userdata_ops import apply_operation

TOKEN = "3bzJQ200UkLS6061Mhw3muUv73ycUT7J"
EXAMPLES = {k: p.example for k, p in PARAMS.items()}
USERDATA = {"userdata.custom_key": "custom_value", "userdata.serial_number": "SN0125"}
ERROR_MEANINGS = {
    "auth_failed": "never sent by the agent (the broker refuses bad credentials at connect)",
    "invalid_parameter": "anything wrong in the request; error_desc names the field",
    "not_found": "group does not exist or has no such request; userdata key or custom group to change is missing",
    "device_busy": "retry inside the minimum retry interval of its topic; nothing changed",
    "device_error": "the hardware failed to apply a control, or the state could not be saved",
    "data_invalid": "a refresh found no valid value for any key of the group",
}


def _json(value: Any) -> str:
    return "```json\n" + json.dumps(value, indent=2, ensure_ascii=False) + "\n```"


def _exchange(topic: str, request: dict[str, Any] | None, result: Any) -> Iterator[str]:
    yield f"Request `{{root}}/{topic}`:\n"
    yield _json({"client_token": TOKEN, **(request or {})})
    yield f"\nResponse `{{root}}/{topic}/resp`:\n"
    yield _json(success(TOKEN, result))
    yield ""


def _view(group: GroupDef, values: dict[str, Any], interest: dict[str, str] | None = None) -> dict[str, Any]:
    keys = list(USERDATA) if group.name == "userdata" else group.keys()
    chosen = effective_interest(interest, keys)
    return build_view(chosen, values, False, ts_keys_for(chosen, group.prefixes))[0]


def _set_example(group: GroupDef) -> dict[str, Any]:
    keys = list(USERDATA) if group.name == "userdata" else group.keys()
    interest = {k: k.split(".", 1)[1] if i % 2 == 0 else "" for i, k in enumerate(keys[:3])}
    return {"interval": 60, "interest": interest}


def _group_section(group: GroupDef) -> Iterator[str]:
    values = {**EXAMPLES, **USERDATA}
    yield f"### {group.title} (`{group.name}`)\n"
    if group.timed:
        yield f"Default interval {group.interval} s; default interest: every parameter of the group.\n"
        yield f"Timer upload `{{root}}/{group.name}/info`:\n"
        yield _json(_view(group, values)) + "\n"
        body = _set_example(group)
        yield from _exchange(f"{group.name}/set", body, parse_settings_change(body, group.owns, group.name))
        yield "The refresh and the timer uploads then report the interest with its aliases:\n"
        yield _json(_view(group, values, body["interest"])) + "\n"
    else:
        yield "On demand only (no timer, no settings).\n"
    yield from _exchange(f"{group.name}/refresh", None, _view(group, values))


def _userdata_section() -> Iterator[str]:
    yield "### User data operations (`userdata/set`)\n"
    yield "One operation per request: `insert` (new keys), `update` / `delete` (existing keys), or interval/interest.\n"
    inserted = apply_operation("insert", USERDATA, {})
    yield from _exchange("userdata/set", {"insert": USERDATA}, inserted[1])
    update = {"userdata.serial_number": "SN0232"}
    yield from _exchange("userdata/set", {"update": update}, apply_operation("update", update, inserted[0])[1])
    delete = {"userdata.serial_number": ""}
    yield from _exchange("userdata/set", {"delete": delete}, apply_operation("delete", delete, inserted[0])[1])


def _control_section() -> Iterator[str]:
    yield "## Control\n"
    yield f"### IO control (`io/control`, minimum retry interval {CONTROL_RETRY_INTERVAL:g} s)\n"
    yield "Keys `io.DO1`..`io.DO4` and `io.DO<n>_pullup`, values 0 or 1; `io.D0<n>` is accepted and echoed as sent.\n"
    body = {"io.DO1": 1, "io.DO1_pullup": 0, "io.D02": 1}
    parse_io_control(body)
    yield from _exchange("io/control", body, body)
    yield "### APP control (`app/control`) and APP refresh (`app/refresh`)\n"
    yield "`app.wifi_mode_2g` / `app.wifi_mode_5g` take 0 (AP) or 1 (STA) and report -1 until set; keys declared by"
    yield "`app hook` nodes are valid too, and the hook emits the accepted values of its keys.\n"
    app = {"app.wifi_mode_2g": 1}
    yield from _exchange("app/control", app, parse_app_control(app, []))
    yield from _exchange("app/refresh", None, {"app.wifi_mode_2g": 1, "app.wifi_mode_5g": -1})


def _custom_section() -> Iterator[str]:
    yield "## Custom groups\n"
    yield f"Up to {MAX_CUSTOM_GROUPS} groups of 1..{MAX_ITEMS} interest keys from any group (including `userdata.*`);"
    yield "names: 1-64 letters, digits, `_`, `-`, `.`, not a reserved group name. A `group/set` request is all-or-nothing.\n"
    create = {
        "settings": [
            {"group_name": "group1", "interval": 60, "interest": {"gnss.latitude": "lat", "obd.speed": ""}},
            {"group_name": "group2", "interest": {"io.DI1": "DI1", "userdata.custom_key": "custom_key"}},
        ]
    }
    groups, result = parse_group_set(create, {})
    yield from _exchange("group/set", create, result)
    yield from _exchange("group/get", None, result)
    yield "Timer upload `{root}/group1/info` (only the interest keys, aliased):\n"
    yield _json(build_view(groups["group1"].interest or {}, EXAMPLES, False)[0]) + "\n"
    yield from _exchange("group1/refresh", None, build_view(groups["group1"].interest or {}, EXAMPLES, False)[0])
    yield from _exchange("group1/set", {"interval": 30}, {"interval": 30})
    remove = {"settings": [{"group_name": "group1", "interest": None}]}
    yield from _exchange("group/set", remove, parse_group_set(remove, groups)[1])


def _errors_section() -> Iterator[str]:
    yield "## Errors and limits\n"
    yield "| error | meaning |\n|---|---|"
    yield from (f"| `{code}` | {ERROR_MEANINGS[code]} |" for code in ERROR_CODES)
    yield "\nEvery request gets exactly one response on its `/resp` topic, even when it is not JSON:\n"
    yield _json(failure(TOKEN, "invalid_parameter", "interval: 3601 is outside 0..3600")) + "\n"
    yield "| limit | value |\n|---|---|"
    yield f"| minimum retry interval of settings, refresh, get (per topic) | {RETRY_INTERVAL:g} s |"
    yield f"| minimum retry interval of `io/control` | {CONTROL_RETRY_INTERVAL:g} s |"
    yield f"| `client_token` | a string of up to {MAX_TOKEN_BYTES} bytes (required) |"
    yield f"| custom groups | up to {MAX_CUSTOM_GROUPS} |\n| data items per group | up to {MAX_ITEMS} |"
    yield f"| request payload | `flexapi.request_max_bytes` (default 64 KiB), nesting up to {MAX_DEPTH} levels |\n"


def _params_section() -> Iterator[str]:
    yield "## Parameters (Appendix A)\n"
    yield "| key | JSON type | range | unit | description |\n|---|---|---|---|---|"
    for param in PARAMS.values():
        note = f" ({param.note})" if param.note else ""
        yield f"| `{param.key}` | {param.json_type} | {param.range_text} | {param.unit} | {param.description}{note} |"
    yield "| `userdata.<name>` | string, number or 0/1 | name: 1-64 letters, digits, `_`, `-`, `.` | | user data |"


def generate() -> str:
    """The whole topic reference as Markdown."""
    parts = [
        "# FlexAPI topic reference\n",
        "Generated by `python -m nodes.flexapi.docgen` from the agent's own tables; do not edit by hand.",
        "`{root}` is `v1/{client_id}`, or `{prefix}/v1/{client_id}` with a custom topic prefix.",
        "Invalid values are left out of payloads unless Include Invalid Data is on (then they are null).\n",
        "## Groups\n",
    ]
    for group in GROUPS.values():
        parts.extend(_group_section(group))
        if group.name == "userdata":
            parts.extend(_userdata_section())
    for section in (_control_section, _custom_section):
        parts.extend(section())
    parts.extend(docgen_events.report_section(_exchange))  # the same request/response layout
    parts.extend(docgen_events.forward_section())
    parts.extend(docgen_events.events_section())
    for section in (_errors_section, _params_section):
        parts.extend(section())
    return "\n".join(parts).rstrip() + "\n"


if __name__ == "__main__":
    print(generate(), end="")
