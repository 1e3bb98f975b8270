"""``flexapi forward``: the forward group (1.0.9) — what a flow sends into it goes out on ``{root}/forward/info``.

The ``msg.topic`` picks the key: its last level ``bt``, ``can`` or ``obdcan`` (or the
full key name) means ``forward.payload_bt``, ``forward.payload_can`` or
``forward.payload_obdcan``; anything else ``forward.payload``. ``msg.payload`` is the
app's data as it is (bytes must be UTF-8 text). With the config file's
``forward.interval`` at 0 each message goes out as it arrives; with N seconds,
everything that arrived in between goes out together, each key holding the list of
its payloads, oldest first. Reports go to ``flexapi out``: kept in the offline
store while the broker is out of reach, like infos.
"""

from __future__ import annotations

from typing import Any

from flowengine.errors import NodeError
from flowengine.logthrottle import LogThrottle
from flowengine.message import Msg, make_msg
from flowengine.node import Node, NodeConfig
from nodes.flexapi.forward_config import FORWARD, GROUP, KEYS
from nodes.flexapi.topics import info_topic, topic_root

#: Payloads waiting for the next interval report, at most (the oldest is dropped beyond).
MAX_WAITING = 1000


def forward_key(topic: Any) -> str:
    """The forward key a ``msg.topic`` selects."""
    text = str(topic or "")
    if text in KEYS.values():
        return text
    return KEYS.get(text.rsplit("/", 1)[-1].lower(), KEYS[""])


def app_data(payload: Any) -> Any:
    """The payload as JSON can carry it: bytes become text; raises NodeError for bytes that are not UTF-8."""
    if isinstance(payload, (bytes, bytearray)):
        try:
            return bytes(payload).decode("utf-8")
        except UnicodeDecodeError:
            raise NodeError("forward: payload is binary, not UTF-8 text; encode it first (e.g. base64)") from None
    return payload


def batched(arrived: list[tuple[str, Any]]) -> dict[str, list[Any]]:
    """An interval's report: each key with the list of its payloads, oldest first."""
    payload: dict[str, list[Any]] = {}
    for key, data in arrived:
        payload.setdefault(key, []).append(data)
    return payload


class ForwardNode(Node[NodeConfig]):
    """Publishes what flows send into it on ``{root}/forward/info`` under the forward key ``msg.topic`` selects,
    at once or every ``forward.interval`` seconds (FlexAPI config file)."""

    Config = NodeConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.settings = FORWARD.load(self.runtime.state_dir)
        self.waiting: list[tuple[str, Any]] = []  # (reported name, payload), oldest first
        self.dropped = 0
        self._log = LogThrottle(self.log)

    async def on_start(self) -> None:
        interval = self.settings.interval
        if interval > 0:
            self.every(interval, self.report, "forward")
        self.status("green", "dot", f"every {interval}s" if interval else "as it arrives")

    def on_input(self, msg: Msg) -> None:
        key, data = forward_key(msg.get("topic")), app_data(msg.get("payload"))
        name = self.alias(key)
        if name is None:
            self._log.warning(key, "dropped data for %s: not in forward.interest", key)
        elif self.settings.interval == 0:
            self.publish({name: data})
        else:
            self._wait(name, data)

    def alias(self, key: str) -> str | None:
        """The name ``key`` is reported under (None: the interest leaves it out)."""
        interest = self.settings.interest
        if interest is None:
            return key
        return (interest[key] or key) if key in interest else None

    def _wait(self, key: str, data: Any) -> None:
        self.waiting.append((key, data))
        if len(self.waiting) > MAX_WAITING:
            del self.waiting[0]
            self.dropped += 1
            self._log.warning("full", "forward: more than %d payloads in one interval; dropped the oldest", MAX_WAITING)

    def report(self) -> None:
        """Everything that arrived since the last report, each key with the list of its payloads."""
        if self.waiting:
            payload = batched(self.waiting)
            self.waiting = []
            self.publish(payload)

    def publish(self, payload: dict[str, Any]) -> None:
        mqtt = self.runtime.services.device.mqtt
        self.send(make_msg(payload, topic=info_topic(topic_root(mqtt.client_id, mqtt.topic_prefix), GROUP)))
