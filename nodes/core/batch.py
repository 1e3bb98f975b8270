"""``batch``: groups messages into sequences by count, by time interval, or by concatenating topic sequences."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from flowengine.clock import Timer
from flowengine.errors import NodeError
from flowengine.message import Msg, clone, make_msg
from flowengine.node import Node, NodeConfig
from nodes.core.split import new_parts_id


class BatchTopic(NodeConfig):
    topic: str = Field(default="", description="A topic whose sequences are concatenated, in list order.")


class BatchConfig(NodeConfig):
    mode: Literal["count", "interval", "concat"] = Field(
        default="count",
        description='"count": a sequence every `count` messages; "interval": a sequence of what arrived each '
        '`interval` seconds; "concat": join one sequence of each of `topics`, in that order.',
    )
    count: int = Field(default=10, ge=1, description="count: messages per sequence.")
    overlap: int = Field(default=0, ge=0, description="count: messages repeated at the start of the next sequence.")
    interval: float = Field(default=10, ge=0, description="interval: seconds per sequence.")
    allowEmptySequence: bool = Field(
        default=False, description="interval: send a message with a null payload when nothing arrived."
    )
    honourParts: bool = Field(
        default=False, description="count: also end a sequence at the last message of an incoming sequence."
    )
    topics: list[BatchTopic] = Field(default_factory=list, description="concat: the topics, in output order.")

    _mode = field_validator("mode", mode="before")(lambda v: v or "count")
    _count = field_validator("count", mode="before")(lambda v: 1 if v in ("", None, 0, "0") else v)
    _overlap = field_validator("overlap", "interval", mode="before")(lambda v: 0 if v in ("", None) else v)

    @field_validator("overlap")
    @classmethod
    def _overlap_below_count(cls, value: int, info: Any) -> int:
        count = info.data.get("count")
        if info.data.get("mode") == "count" and count is not None and count <= value:
            raise ValueError(f"overlap ({value}) must be less than count ({count})")
        return value


class BatchNode(Node[BatchConfig]):
    """Turns a stream of messages into sequences with Node-RED's `msg.parts` (`id` = the first
    message's `_msgid`, `index`, `count`), ready for join or sort. "count": every `count`
    messages, the last `overlap` ones starting the next sequence too. "interval": every
    `interval` seconds, what arrived (optionally an empty sequence). "concat": when a complete
    sequence of every topic in `topics` has arrived, one sequence of them all, in topic order.
    `msg.reset` drops what is held (and restarts the interval).
    """

    Config = BatchConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.held: list[Msg] = []
        self.by_topic: dict[str, dict[Any, list[Msg]]] = {}
        self.timer: Timer | None = None
        self.end_of_sequence = False

    async def on_start(self) -> None:
        if self.config.mode == "interval":
            self._schedule()

    def on_input(self, msg: Msg) -> None:
        if "reset" in msg:
            self._reset()
            return
        if self.config.mode == "count":
            self._count(msg)
        elif self.config.mode == "interval":
            self.held.append(msg)
        else:
            self._concat(msg)

    def _reset(self) -> None:
        self.held = []
        self.by_topic = {}
        if self.config.mode == "interval":
            self._schedule()

    # -- count ------------------------------------------------------------------------------

    def _count(self, msg: Msg) -> None:
        cfg = self.config
        parts = msg.get("parts")
        if cfg.honourParts and isinstance(parts, dict) and parts.get("index", 0) + 1 == parts.get("count"):
            self.end_of_sequence = True
        self.held.append(msg)
        if len(self.held) == cfg.count or self.end_of_sequence:
            self._send_sequence(self.held, copy=cfg.overlap > 0)
            self.held = self.held[-cfg.overlap :] if cfg.overlap else []
            self.end_of_sequence = False

    # -- interval ---------------------------------------------------------------------------

    def _schedule(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.config.interval > 0:
            self.timer = self.clock.call_later(self.config.interval, self._tick)

    def _tick(self) -> None:
        self.timer = self.clock.call_later(self.config.interval, self._tick)
        if self.held:
            pending, self.held = self.held, []
            self._send_sequence(pending, copy=False)
        elif self.config.allowEmptySequence:
            msg = make_msg(None, parts={"id": new_parts_id(), "index": 0, "count": 1})
            self.send(msg)

    # -- concat -----------------------------------------------------------------------------

    def _concat(self, msg: Msg) -> None:
        topics = [t.topic for t in self.config.topics]
        if msg.get("topic") not in topics:
            return
        parts = msg.get("parts")
        if not isinstance(parts, dict) or not {"id", "index", "count"} <= parts.keys():
            raise NodeError("message without msg.parts (id, index and count): cannot concatenate")
        groups = self.by_topic.setdefault(msg["topic"], {})
        groups.setdefault(repr(parts["id"]), []).append(msg)
        firsts = [self._first_complete(topic) for topic in topics]
        if all(first is not None for first in firsts):
            sequence = [m for first in firsts for m in self.by_topic_pop(first)]
            self._send_sequence(sequence, copy=True)

    def _first_complete(self, topic: str) -> tuple[str, Any] | None:
        groups = self.by_topic.get(topic)
        if not groups:
            return None
        group_id, messages = next(iter(groups.items()))
        return (topic, group_id) if messages[0]["parts"]["count"] == len(messages) else None

    def by_topic_pop(self, where: tuple[str, Any] | None) -> list[Msg]:
        assert where is not None
        topic, group_id = where
        return self.by_topic[topic].pop(group_id)

    # -- output -------------------------------------------------------------------------------

    def _send_sequence(self, messages: list[Msg], copy: bool) -> None:
        sequence_id = messages[0].get("_msgid")
        for index, original in enumerate(messages):
            msg = clone(original) if copy else original
            parts = msg.setdefault("parts", {})
            parts.update(id=sequence_id, index=index, count=len(messages))
            self.send(msg)

    async def on_close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.held = []
        self.by_topic = {}
