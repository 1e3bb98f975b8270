"""``flexapi values``: the device's latest value of every parameter, where every value goes through.

Sources (the shipped ones and any a flow adds) wire into it with
``{payload: {"<prefix>.<param>": value, ...}}``; it sends on what changed, and
every group is wired from it. Splice a node between a source and this one to
filter or convert values; wire a node from it (``wiredFrom``) to tap every change.
"""

from __future__ import annotations

import math
from typing import Any

from flowengine.logthrottle import LogThrottle
from flowengine.message import Msg, make_msg
from flowengine.node import Node, NodeConfig
from nodes.flexapi.params import canonical, is_userdata_key, lookup, type_ok

#: Topic of the full snapshot sent to a group that (re)started, so it does not wait for each source.
SNAPSHOT_TOPIC = "snapshot"


class ValuesNode(Node[NodeConfig]):
    """Keeps the latest value of every key and sends ``{payload: {key: value}}`` of the keys that changed.

    A value of the wrong JSON type for its Appendix A parameter is kept as invalid
    (None), logged once per key. When a node wired from it (re)starts, that node
    alone gets the whole snapshot (``topic: "snapshot"``).
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.latest: dict[str, Any] = {}
        self._warned: set[str] = set()
        self._log = LogThrottle(self.log)

    def on_input(self, msg: Msg) -> None:
        payload = msg.get("payload")
        if not isinstance(payload, dict):
            self._log.warning("payload", "ignored a %s payload: expected {key: value}", type(payload).__name__)
            return
        changed = {}
        for key, value in payload.items():
            value = self._checked(str(key), value)
            if not same(self.latest.get(key, _ABSENT), value):
                self.latest[key] = changed[key] = value
        if changed:
            self.send(make_msg(changed, topic=msg.get("topic") or "values"))
            self.status("green", "dot", f"{len(self.latest)} values")

    def on_deployed(self, started: set[str]) -> None:
        if started and self.latest:
            self.send_to(started, make_msg(dict(self.latest), topic=SNAPSHOT_TOPIC))

    def _checked(self, key: str, value: Any) -> Any:
        param = lookup(canonical(key))
        if param is None:
            if not is_userdata_key(key):
                self._warn_once(key, "is not a FlexAPI parameter or userdata.<name> key: no group can publish it")
            return value
        if value is not None and not type_ok(param, value):
            self._warn_once(key, f"{value!r:.40} is not {param.json_type}; kept as invalid")
            return None
        return value

    def _warn_once(self, key: str, what: str) -> None:
        if key not in self._warned and len(self._warned) < 1000:
            self._warned.add(key)
            self.log.warning("%s: %s (logged once per key)", key, what)


_ABSENT = object()


def same(old: Any, new: Any) -> bool:
    """Equal and of the same type (1, 1.0 and True differ on the wire); NaN equals NaN."""
    if type(old) is not type(new):
        return False
    if isinstance(new, float) and math.isnan(new):
        return math.isnan(old)
    return bool(old == new)
