"""Rate-limited logging for what a remote party or a message stream can trigger.

A warning that every bad message repeats (a hostile payload, a user expression that
fails on each message) would otherwise flood the log of a device that runs for months.
Per key: the first occurrence is logged, then at most one per ``interval`` seconds,
saying how many were suppressed in between.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

#: Keys remembered at most; a remote party choosing keys (topics, ids) cannot grow this.
MAX_KEYS = 1000


@dataclass
class _Seen:
    last_logged: float
    suppressed: int = 0


class LogThrottle:
    """Logs the first message per key, then at most one per ``interval`` with "N more suppressed"."""

    def __init__(
        self,
        logger: logging.Logger | logging.LoggerAdapter[Any],
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self.max_keys = max_keys
        self._seen: OrderedDict[Hashable, _Seen] = OrderedDict()

    def log(self, key: Hashable, level: int, message: str, *args: Any) -> bool:
        """Log ``message % args`` at ``level`` unless ``key`` was logged less than ``interval`` ago."""
        now = self.clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen.last_logged < self.interval:
            seen.suppressed += 1
            return False
        if seen is not None and seen.suppressed:
            message += f" ({seen.suppressed} more suppressed in the last {now - seen.last_logged:.0f}s)"
        self._remember(key, _Seen(now))
        self.logger.log(level, message, *args)
        return True

    def warning(self, key: Hashable, message: str, *args: Any) -> bool:
        return self.log(key, logging.WARNING, message, *args)

    def error(self, key: Hashable, message: str, *args: Any) -> bool:
        return self.log(key, logging.ERROR, message, *args)

    def _remember(self, key: Hashable, seen: _Seen) -> None:
        self._seen[key] = seen
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)
