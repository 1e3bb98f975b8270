"""``flexapi event``: the event service — turns event messages into ``{root}/event/notice`` publications.

Wired from ``flexapi values`` (it keeps the latest value of every key for the
snapshots) and from every detector; a user flow raises its own types by wiring
into it (message shape: event_notice). Its output goes to ``flexapi out``, which
publishes with the link's QoS and keeps notices in the offline store while the
broker is out of reach, like infos.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from flowengine.errors import NodeError
from flowengine.logthrottle import LogThrottle
from flowengine.message import Msg, make_msg
from flowengine.node import Node, NodeConfig
from nodes.flexapi.device_settings import flexapi_settings
from nodes.flexapi.event_notice import EVENT_TOPIC, EventMessageError, notice, parse_event, snapshot, table_entry
from nodes.flexapi.messages import values_of
from nodes.flexapi.topics import topic_root

#: Raised events remembered for their ``starts_at`` (the oldest is forgotten beyond this).
MAX_OPEN = 1000


class EventNode(Node[NodeConfig]):
    """Publishes each event message as a notice with ``starts_at``, ``status``, ``type``, ``level``,
    the event's fields and a snapshot of the related values (docs/events.md).

    An event message: ``{topic: "event", payload: {type, status: "raise"|"clear", level,
    snapshot: [key patterns], ...fields}}`` (only ``type`` is required), with an optional
    ``msg.values`` (dotted keys: values newer than the latest readings, such as the
    accelerometer sample that raised a motion event) that the snapshot takes; any other
    message is a value update from ``flexapi values``, kept for the snapshots.

    A ``clear`` carries the ``starts_at`` of the type's raise and its own ``ends_at``;
    a clear of a type that is not raised (or never clears, like DI_CHG) is dropped (logged). An invalid event
    message is an error naming the field (routed to ``catch`` nodes).
    """

    Config = NodeConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.latest: dict[str, Any] = {}
        self.raised: OrderedDict[str, int] = OrderedDict()
        self.sent = 0
        self._log = LogThrottle(self.log)

    def on_input(self, msg: Msg) -> None:
        if msg.get("topic") == EVENT_TOPIC:
            self._notify(msg)
        elif (values := values_of(msg)) is not None:
            self.latest.update(values)

    def _notify(self, msg: Msg) -> None:
        try:
            event = parse_event(msg.get("payload"))
        except EventMessageError as exc:
            raise NodeError(f"event: {exc}") from None
        now = int(self.clock.time())
        if event.status == "raise":
            starts_at, ends_at = now, None
            if (entry := table_entry(event.type)) is None or entry.clears:
                self._remember(event.type, now)
        elif (raised_at := self.raised.pop(event.type, None)) is not None:
            starts_at, ends_at = raised_at, now
        else:
            self._log.warning(event.type, "dropped a clear of %s: it is not raised", event.type)
            return
        include_invalid = flexapi_settings(self.runtime.services.device).include_invalid
        values = snapshot({**self.latest, **_newer(msg.get("values"))}, event.snapshot, include_invalid)
        self.send(make_msg(notice(event, starts_at, ends_at, values), topic=self._topic()))
        self.sent += 1
        self.status("green", "dot", f"{self.sent} sent; last {event.type} {event.status}")

    def _remember(self, event_type: str, starts_at: int) -> None:
        self.raised.pop(event_type, None)
        self.raised[event_type] = starts_at
        while len(self.raised) > MAX_OPEN:
            self.raised.popitem(last=False)

    def _topic(self) -> str:
        mqtt = self.runtime.services.device.mqtt
        return f"{topic_root(mqtt.client_id, mqtt.topic_prefix)}/event/notice"


def _newer(values: Any) -> dict[str, Any]:
    """An event message's ``values`` (what its detector saw after the latest readings), dotted keys only."""
    if not isinstance(values, dict):
        return {}
    return {k: v for k, v in values.items() if isinstance(k, str) and "." in k}
