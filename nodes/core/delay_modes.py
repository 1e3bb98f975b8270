"""The delay node's modes: per-message timers, a rate limit, and per-topic queues.

Each mode holds messages in one bounded container; a full container drops its oldest
message, and every drop is counted, logged and shown in the node's status.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
from collections import OrderedDict, deque
from typing import TYPE_CHECKING, Any

from flowengine.clock import Timer
from flowengine.message import Msg
from nodes.core.jsvalue import js_num

if TYPE_CHECKING:
    from nodes.core.delay import DelayNode

#: Status updates about the queue length are sent at most this often (seconds).
STATUS_EVERY = 0.5


class DelayMode:
    """Shared bookkeeping: sending, drop counting and a rate-limited queue-length status."""

    def __init__(self, node: DelayNode) -> None:
        self.node = node
        self.config = node.config
        self.dropped = 0
        self._status_due: Timer | None = None

    @property
    def held(self) -> int:
        """Messages held right now."""
        return 0

    def handle(self, msg: Msg) -> None:
        raise NotImplementedError

    def close(self) -> None:
        if self._status_due:
            self._status_due.cancel()

    def emit(self, msg: Msg, port: int = 0) -> None:
        try:
            self.node.send(msg if port == 0 else [None, msg])
        except Exception as exc:  # a timer callback must never lose the error
            self.node.error(exc, msg)

    def drop_oldest(self, why: str = "queue full") -> None:
        """Count one dropped message; log the first and every 1000th."""
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 1000 == 0:
            self.node.log.warning("%s (%d): dropped %d message(s) so far", why, self.config.maxQueue, self.dropped)
        self.report()

    def report(self) -> None:
        """Show the queue length soon (updates are coalesced)."""
        if self._status_due is None:
            self._status_due = self.node.clock.call_later(STATUS_EVERY, self._show)

    def report_now(self, shape: str = "dot") -> None:
        if self._status_due:
            self._status_due.cancel()
            self._status_due = None
        self._show(shape)

    def _show(self, shape: str = "dot") -> None:
        self._status_due = None
        text = str(self.held) + (f" ({self.dropped} dropped)" if self.dropped else "")
        self.node.status("blue", shape, text)


def flush_count(value: Any, held: int) -> int:
    """How many held messages ``msg.flush`` releases: all, or the number it gives."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return max(0, min(math.floor(value), held))
    return held


class TimerMode(DelayMode):
    """delay, delayv and random: each message gets its own timer."""

    def __init__(self, node: DelayNode) -> None:
        super().__init__(node)
        self.pending: OrderedDict[int, tuple[Msg, Timer]] = OrderedDict()
        self._keys = itertools.count()

    @property
    def held(self) -> int:
        return len(self.pending)

    def handle(self, msg: Msg) -> None:
        if "reset" in msg:
            self.clear()
            self.report_now("ring")
            return
        if not (msg.keys() <= {"_msgid", "flush"}):
            self.hold(msg, self.delay_for(msg))
        if "flush" in msg:
            self.flush(flush_count(msg["flush"], self.held))
        self.report()

    def delay_for(self, msg: Msg) -> float:
        cfg = self.config
        if cfg.pauseType == "random":
            low, high = cfg.random_seconds
            return random.uniform(low, high)
        if cfg.pauseType == "delayv" and "delay" in msg:
            ms = js_num(msg["delay"]) if not isinstance(msg["delay"], bool) else None
            if ms is not None:
                return max(0.0, ms / 1000)
        return cfg.delay_seconds

    def hold(self, msg: Msg, seconds: float) -> None:
        if len(self.pending) >= self.config.maxQueue:
            _, (_, handle) = self.pending.popitem(last=False)
            handle.cancel()
            self.drop_oldest()
        key = next(self._keys)
        handle = self.node.clock.call_later(seconds, functools.partial(self._release, key))
        self.pending[key] = (msg, handle)

    def _release(self, key: int) -> None:
        msg, _ = self.pending.pop(key)
        self.emit(msg)
        self.report()

    def flush(self, count: int) -> None:
        for _ in range(count):
            _, (msg, handle) = self.pending.popitem(last=False)
            handle.cancel()
            self.emit(msg)

    def clear(self) -> None:
        for _, handle in self.pending.values():
            handle.cancel()
        self.pending.clear()

    def close(self) -> None:
        self.clear()
        super().close()


class RateMode(DelayMode):
    """rate: at most one message per interval; the rest queued (bounded) or dropped."""

    def __init__(self, node: DelayNode) -> None:
        super().__init__(node)
        self.interval = node.config.interval_seconds
        self.buffer: deque[Msg] = deque()
        self.last_sent: float | None = None
        self._tick: Timer | None = None

    @property
    def held(self) -> int:
        return len(self.buffer)

    def handle(self, msg: Msg) -> None:
        self._rate_from(msg)
        if self.config.drop:
            self._limit(msg)
        else:
            self._queue(msg)

    def _rate_from(self, msg: Msg) -> None:
        if self.config.allowrate and "rate" in msg:
            ms = js_num(msg["rate"]) if not isinstance(msg["rate"], bool) else None
            if ms is not None and ms > 0:
                self.interval = ms / 1000

    def _limit(self, msg: Msg) -> None:
        """Drop mode: send when an interval has passed since the last message sent."""
        if "reset" in msg:
            self.last_sent = None
            self.interval = self.config.interval_seconds
            return
        now = self.node.clock.now()
        if self.last_sent is None or now - self.last_sent >= self.interval:
            self.last_sent = now
            self.emit(msg)
        elif self.config.outputs == 2:
            self.emit(msg, 1)
        else:
            self.dropped += 1
            self.report()

    def _queue(self, msg: Msg) -> None:
        content = {k: v for k, v in msg.items() if k != "flush"}
        if len(content) > 1:
            if self._tick is not None:
                self._push(content, front=msg.get("toFront") is True)
            elif "reset" not in msg:
                self.emit(content)
                self._schedule()
            elif "flush" in msg:
                self._push(content)
                self._schedule()
        if "flush" in msg:
            self._flush(flush_count(msg["flush"], self.held))
        if "reset" in msg:
            if "flush" not in msg:
                self._stop()
            self.buffer.clear()
            self.interval = self.config.interval_seconds
            self.report_now("ring")
            return
        self.report()

    def _push(self, msg: Msg, front: bool = False) -> None:
        if len(self.buffer) >= self.config.maxQueue:
            self.buffer.popleft()
            self.drop_oldest()
        if front:
            self.buffer.appendleft(msg)
        else:
            self.buffer.append(msg)

    def _flush(self, count: int) -> None:
        for _ in range(count):
            msg = self.buffer.popleft()
            msg.pop("reset", None)
            self.emit(msg)
        if count:
            self._stop()
            self._schedule()

    def _schedule(self) -> None:
        self._tick = self.node.clock.call_later(self.interval, self._on_tick)

    def _on_tick(self) -> None:
        if not self.buffer:
            self._tick = None  # idle: the next message goes out at once
        else:
            self.emit(self.buffer.popleft())
            self._schedule()
        self.report()

    def _stop(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None

    def close(self) -> None:
        self._stop()
        self.buffer.clear()
        super().close()


class TopicMode(DelayMode):
    """queue and timed: one message kept per topic (the newest), released by an interval timer."""

    def __init__(self, node: DelayNode) -> None:
        super().__init__(node)
        self.interval = node.config.interval_seconds
        self.topics: OrderedDict[Any, Msg] = OrderedDict()
        self._tick: Timer | None = None

    @property
    def held(self) -> int:
        return len(self.topics)

    def handle(self, msg: Msg) -> None:
        if self.config.allowrate and "rate" in msg and (ms := js_num(msg["rate"])) and ms > 0:
            self.interval = ms / 1000
        if "reset" in msg:
            self.topics.clear()
            self.interval = self.config.interval_seconds
            self.report_now("ring")
            return
        if not (msg.keys() <= {"_msgid", "flush", "topic"}):
            self._keep(msg)
        if "flush" in msg:
            for _ in range(flush_count(msg["flush"], self.held)):
                self.emit(self._pop())
        self.report()

    def _keep(self, msg: Msg) -> None:
        topic = _hashable(msg.get("topic", "_none_"))
        if topic in self.topics:
            if self.config.outputs == 2:
                self.emit(self.topics[topic], 1)
        elif len(self.topics) >= self.config.maxQueue:
            self.topics.popitem(last=False)
            self.drop_oldest()
        self.topics[topic] = msg
        if self._tick is None:
            self._tick = self.node.clock.call_later(self.interval, self._on_tick)

    def _pop(self) -> Msg:
        msg = self.topics.popitem(last=False)[1]
        msg.pop("flush", None)
        return msg

    def _on_tick(self) -> None:
        count = 1 if self.config.pauseType == "queue" else len(self.topics)
        for _ in range(min(count, len(self.topics))):
            self.emit(self._pop())
        self._tick = self.node.clock.call_later(self.interval, self._on_tick) if self.topics else None
        self.report()

    def close(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
        self.topics.clear()
        super().close()


def _hashable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
