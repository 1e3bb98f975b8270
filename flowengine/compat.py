"""Node-RED 4's core nodes and what to use here instead of the ones flowengine does not run.

The graph check names the alternative when a flow uses an unknown type, and
``flowengine nodes`` prints the table, so someone bringing a flow over from Node-RED
sees at once what runs unchanged.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: Every node type of Node-RED 4's core palette, with what to do instead where flowengine lacks it
#: ("" for types flowengine implements or will).
NODE_RED_CORE: dict[str, str] = {
    "inject": "",
    "debug": "",
    "complete": "",
    "catch": "",
    "status": "",
    "link in": "",
    "link out": "",
    "link call": "",
    "comment": "",
    "junction": "",
    "function": "",
    "switch": "",
    "change": "",
    "range": "",
    "template": "",
    "delay": "",
    "trigger": "",
    "exec": "not supported (a flow may not start programs): write a node type in Python (see docs/flow-authoring.md)",
    "rbe": "",
    "mqtt in": "",
    "mqtt out": "",
    "mqtt-broker": "",
    "http in": "not supported: flowengine talks MQTT; use mqtt in",
    "http response": "not supported: flowengine talks MQTT; use mqtt out",
    "http request": "not supported: flowengine talks MQTT; use mqtt out to a service that makes the request",
    "websocket in": "not supported: use mqtt in",
    "websocket out": "not supported: use mqtt out",
    "websocket-listener": "not supported: use an mqtt-broker node",
    "websocket-client": "not supported: use an mqtt-broker node",
    "tcp in": "not supported: use mqtt in (or a source node for a serial device)",
    "tcp out": "not supported: use mqtt out",
    "tcp request": "not supported: use mqtt out and mqtt in",
    "udp in": "not supported: use mqtt in",
    "udp out": "not supported: use mqtt out",
    "tls-config": "not supported: set usetls on the mqtt-broker node (system CA certificates)",
    "http proxy": "not supported: mqtt-broker nodes connect directly",
    "csv": "",
    "html": "not supported: parse HTML before the message reaches flowengine",
    "json": "",
    "xml": "not supported: send JSON instead (json node)",
    "yaml": "not supported: a template node with output yaml reads YAML; send JSON otherwise (json node)",
    "split": "",
    "join": "",
    "sort": "",
    "batch": "",
    "file": "not supported: nodes keep state in context (persisted in the state dir)",
    "file in": "not supported: read files in a node type written in Python",
    "watch": "not supported: flowengine itself reloads flow files when they change",
    "global-config": "not supported: use the tab's env or the runtime's environment",
}

#: Popular contrib types, mapped to what to use here.
CONTRIB_HINTS: dict[str, str] = {
    "python-function": "not supported: use an `expression` node (Python expressions), or write a node type",
    "python3-function": "not supported: use an `expression` node (Python expressions), or write a node type",
    "ui_base": "dashboard nodes are not supported",
}


def unknown_type_hint(name: str, known: Iterable[str]) -> str:
    """What to say about a node type that is not registered: why, what instead, or the closest name."""
    note = NODE_RED_CORE.get(name) or CONTRIB_HINTS.get(name)
    if note:
        return f"Node-RED's {name!r} is {note}" if not note.startswith("dashboard") else note
    if name.startswith(("ui_", "ui-")):
        return "dashboard nodes are not supported"
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else "see `flowengine nodes` for the types there are"


def core_node_status(known: Iterable[str]) -> list[tuple[str, str]]:
    """Each Node-RED 4 core node with its status here: "supported", "editor only" or what to use instead."""
    registered = set(known)
    rows = []
    for name, note in NODE_RED_CORE.items():
        if name in registered:
            rows.append((name, "supported"))
        elif name == "comment":
            rows.append((name, "editor only (ignored)"))
        else:
            rows.append((name, note or "not supported"))
    return rows
