"""Generates docs/flexapi-topics.md from the code's own tables: ``python -m nodes.flexapi.docgen``.

Every example response is computed by the same pure functions the agent uses,
from the parameter table's example values, so the reference cannot drift. Both
API revisions are covered: examples are 1.0.8's, and what 1.0.9 changes is said
where it differs (a revision column in the tables).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from nodes.flexapi import docgen_events
from nodes.flexapi.control import (
    INPUT_PULLUP_KEYS,
    MAX_TOGGLE_MS,
    MIN_TOGGLE_MS,
    parse_app_control,
    parse_io_control,
    parse_io_toggle,
)
from nodes.flexapi.customdefs import parse_group_set
from nodes.flexapi.envelope import ERROR_CODES, MAX_DEPTH, MAX_TOKEN_BYTES, PRECISE_CONDITIONS, failure, success
from nodes.flexapi.groups import GROUPS, MAX_CUSTOM_GROUPS, MAX_ITEMS, GroupDef
from nodes.flexapi.params import ALL_PARAMS, PARAMS, Param, params_for
from nodes.flexapi.revision import API_REVISIONS
from nodes.flexapi.settings import build_view, effective_interest, parse_settings_change, ts_keys_for
from nodes.flexapi.topics import CONTROL_RETRY_INTERVAL, RETRY_INTERVAL
from nodes.flexapi.userdata_ops import apply_operation

TOKEN = "3bzJQ200UkLS6061Mhw3muUv73ycUT7J"
EXAMPLES = {k: p.example for k, p in PARAMS.items()}
#: The send time in 1.0.9 examples (``<group>.ul_ts``).
SENT_AT = 1592820541
NEW = params_for("1.0.9")
USERDATA = {"userdata.custom_key": "custom_value", "userdata.serial_number": "SN0125"}
ERROR_MEANINGS = {
    "auth_failed": "never sent by the agent (the broker refuses bad credentials at connect)",
    "invalid_parameter": "anything wrong in the request; error_desc names the field",
    "not_found": "group does not exist or has no such request; userdata key or custom group to change is missing",
    "device_busy": "retry inside the minimum retry interval of its topic; nothing changed",
    "device_error": "the hardware failed to apply a control, or the state could not be saved",
    "data_invalid": "a refresh found no valid value for any key of the group",
    "invalid_token": "`client_token` missing, not a string, given twice or longer than 256 bytes",
    "data_empty": "refresh of a group that holds no keys at all (user data before any insert)",
    "over_group_num": "a `group/set` that would make more than 16 custom groups",
    "over_data_num": "an interest of more than 256 keys, or more than 256 user data keys",
    "find_same_key": "user data `insert` of a key that exists",
    "interval_invalid": "`interval` not an integer in 0..3600",
    "not_support": "a request the group does not take (`sysinfo/set`, `app/set`, `group/refresh`)",
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
    yield from _revision_note(group)


def _revision_note(group: GroupDef) -> Iterator[str]:
    """What 1.0.9 changes for a group: the upload stamp and its parameters."""
    uploads = "every timer upload and refresh result" if group.timed else "every refresh result"
    yield f"1.0.9: {uploads} also carries `{group.name}.ul_ts`, the time it was sent (integer seconds)."
    added = [k for k in group.keys(NEW) if k not in PARAMS]
    gone = [k for k in group.keys(PARAMS) if k not in NEW]
    if added:
        yield f"The group also carries {', '.join(f'`{k}`' for k in added)}."
    if gone:
        yield f"{', '.join(f'`{k}`' for k in gone)} are not part of it."
    yield ""


def _userdata_section() -> Iterator[str]:
    yield "### User data operations (`userdata/set`)\n"
    yield "One operation per request: `insert` (new keys), `update` / `delete` (existing keys), or interval/interest.\n"
    inserted = apply_operation("insert", USERDATA, {})
    yield from _exchange("userdata/set", {"insert": USERDATA}, inserted[1])
    update = {"userdata.serial_number": "SN0232"}
    yield from _exchange("userdata/set", {"update": update}, apply_operation("update", update, inserted[0])[1])
    delete = {"userdata.serial_number": ""}
    yield from _exchange("userdata/set", {"delete": delete}, apply_operation("delete", delete, inserted[0])[1])
    yield "Set the report interval (1.0.9's only user data setting; 1.0.8 also takes `interest`):\n"
    yield from _exchange("userdata/set", {"interval": 30}, parse_settings_change({"interval": 30}, bool, "userdata"))


def _control_section() -> Iterator[str]:
    yield "## Control\n"
    yield f"### IO control (`io/control`, minimum retry interval {CONTROL_RETRY_INTERVAL:g} s)\n"
    yield "Keys `io.DO1`..`io.DO4` and `io.DO<n>_pullup`, values 0 or 1; `io.D0<n>` is accepted and echoed as sent.\n"
    body = {"io.DO1": 1, "io.DO1_pullup": 0, "io.D02": 1}
    parse_io_control(body)
    yield from _exchange("io/control", body, body)
    pullups = {"io.DI1_pullup": 1, "io.DO2": 0}
    parse_io_control(pullups, API_REVISIONS["1.0.9"].io_control_keys)
    yield f"1.0.9 also takes the input pull-ups `{INPUT_PULLUP_KEYS[0]}`..`{INPUT_PULLUP_KEYS[-1]}` (0 down, 1 up):\n"
    yield from _exchange("io/control", pullups, pullups)
    yield from _toggle_section()
    yield "### APP control (`app/control`) and APP refresh (`app/refresh`)\n"
    yield "`app.wifi_mode_2g` / `app.wifi_mode_5g` take 0 (AP) or 1 (STA) and report -1 until set; keys declared by"
    yield "`app hook` nodes are valid too (with the values the hook allows), the hook emits the values of its keys"
    yield "with the request's `client_token`, its flow may refuse them (`device_error` with the flow's text), and"
    yield "what the flow reports into the hook is what `app/refresh` returns for them.\n"
    app = {"app.wifi_mode_2g": 1}
    yield from _exchange("app/control", app, parse_app_control(app, []))
    yield from _exchange("app/refresh", None, {"app.wifi_mode_2g": 1, "app.wifi_mode_5g": -1})


def _toggle_section() -> Iterator[str]:
    yield f"### IO toggle (`io/toggle`, InHand's add-on; shares the {CONTROL_RETRY_INTERVAL:g} s interval of `io/control`)\n"
    yield "Sets each output given to its level, answers, and drives the opposite level after `io.DO<n>_toggle_ms`"
    yield f"milliseconds ({MIN_TOGGLE_MS + 1}..{MAX_TOGGLE_MS}). The level the pulse ends in is saved first: a restart"
    yield "during the pulse ends it. A later control or toggle of the output cancels its pending flip. Both revisions.\n"
    body = {"io.DO1": 1, "io.DO1_toggle_ms": 500}
    parse_io_toggle(body)
    yield from _exchange("io/toggle", body, body)


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


def _revision_section() -> Iterator[str]:
    gnss = GROUPS["gnss"]
    values = {**EXAMPLES, **{k: p.example for k, p in NEW.items()}}
    interest = effective_interest(None, gnss.keys(NEW))
    view = build_view(interest, values, False, ts_keys_for(interest, gnss.prefixes))[0]
    yield "## What 1.0.9 changes\n"
    yield "- every reserved group's timer uploads and refresh results carry `<group>.ul_ts`, when the message was"
    yield "  sent, beside the `<source>.ts` stamps of when the data was read (custom groups carry none);"
    yield "- seven conditions get codes of their own (see [Errors and limits](#errors-and-limits));"
    yield "- new parameters, `modem1.network` up to 4 (5G), the brake pressures gone (the revision column below);"
    yield "- `userdata/set` with `interval` alone sets the user data report interval; `io/control` also drives the"
    yield "  input pull-ups.\n"
    yield "Timer upload `{root}/gnss/info` under 1.0.9:\n"
    yield _json({**API_REVISIONS["1.0.9"].upload_stamp("gnss", SENT_AT), **view}) + "\n"


def _errors_section() -> Iterator[str]:
    yield "## Errors and limits\n"
    yield "The agent finds each condition below; the revision decides the code it is answered with.\n"
    yield "| condition | 1.0.8 answers | 1.0.9 answers | meaning |\n|---|---|---|---|"
    old, new = API_REVISIONS["1.0.8"], API_REVISIONS["1.0.9"]
    for code in (*ERROR_CODES, *PRECISE_CONDITIONS):
        yield f"| {code} | `{old.wire_code(code)}` | `{new.wire_code(code)}` | {ERROR_MEANINGS[code]} |"
    yield "\nEvery request gets exactly one response on its `/resp` topic, even when it is not JSON:\n"
    yield _json(failure(TOKEN, "invalid_parameter", "interval: 3601 is outside 0..3600")) + "\n"
    yield "| limit | value |\n|---|---|"
    yield f"| minimum retry interval of settings, refresh, get (per topic) | {RETRY_INTERVAL:g} s |"
    yield f"| minimum retry interval of `io/control` and `io/toggle` (one for both) | {CONTROL_RETRY_INTERVAL:g} s |"
    yield f"| `client_token` | a string of up to {MAX_TOKEN_BYTES} bytes (required) |"
    yield f"| custom groups | up to {MAX_CUSTOM_GROUPS} |\n| data items per group | up to {MAX_ITEMS} |"
    yield f"| request payload | `flexapi.request_max_bytes` (default 64 KiB), nesting up to {MAX_DEPTH} levels |\n"


def _params_section() -> Iterator[str]:
    yield "## Parameters (Appendix A)\n"
    yield "| key | revision | JSON type | range | unit | description |\n|---|---|---|---|---|---|"
    for key, param in ALL_PARAMS.items():
        revision, range_text = _revisions_of(PARAMS.get(key), NEW.get(key))
        note = f" ({param.note})" if param.note else ""
        yield f"| `{key}` | {revision} | {param.json_type} | {range_text} | {param.unit} | {param.description}{note} |"
    both = " / ".join(API_REVISIONS)
    yield f"| `userdata.<name>` | {both} | string, number or 0/1 | name: 1-64 letters, digits, `_`, `-`, `.` | | user data |"


def _revisions_of(old: Param | None, new: Param | None) -> tuple[str, str]:
    """The revision column and the range of a key: both, one of them, or both with different ranges."""
    if old is None or new is None:
        only = old or new
        assert only is not None
        return ("1.0.8 only" if new is None else "1.0.9"), only.range_text
    if old.range_text != new.range_text:
        return "1.0.8 / 1.0.9", f"1.0.8: {old.range_text}; 1.0.9: {new.range_text}"
    return "1.0.8 / 1.0.9", old.range_text


def generate() -> str:
    """The whole topic reference as Markdown."""
    parts = [
        "# FlexAPI topic reference\n",
        "Generated by `python -m nodes.flexapi.docgen` from the agent's own tables; do not edit by hand.",
        "`{root}` is `v1/{client_id}`, or `{prefix}/v1/{client_id}` with a custom topic prefix.",
        "Invalid values are left out of payloads unless Include Invalid Data is on (then they are null).",
        "The device speaks FlexAPI 1.0.8 (the default) or 1.0.9 (`[flexapi] revision`, `flowengine run --api-revision`);",
        "the examples are 1.0.8's and what 1.0.9 changes is said where it differs.\n",
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
    for section in (_revision_section, _errors_section, _params_section):
        parts.extend(section())
    return "\n".join(parts).rstrip() + "\n"


if __name__ == "__main__":
    print(generate(), end="")
