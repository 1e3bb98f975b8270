"""Rate-limited log lines for what a remote party or a message stream can trigger.

A line per bad request would let anyone fill a device's disk and bury the one
line that matters. Per key (what went wrong), the first occurrence is logged,
then at most one line per interval, which says how many were suppressed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

#: Seconds between two lines of the same key.
DEFAULT_INTERVAL = 60.0
#: Keys remembered; beyond, the oldest are forgotten (a flood of distinct keys stays bounded).
MAX_KEYS = 1024


class LogThrottle:
    """Logs through ``logger`` at most once per ``interval`` per key, counting what it held back."""

    def __init__(
        self,
        logger: logging.Logger | logging.LoggerAdapter[Any],
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def warning(self, key: str, fmt: str, *args: Any) -> bool:
        return self.log(logging.WARNING, key, fmt, *args)

    def error(self, key: str, fmt: str, *args: Any) -> bool:
        return self.log(logging.ERROR, key, fmt, *args)

    def log(self, level: int, key: str, fmt: str, *args: Any) -> bool:
        """Log now, or count it as suppressed; True when a line was written."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        held = self._held.pop(key, 0)
        if held:
            fmt += " (%d more suppressed in the last %.0fs)"
            args = (*args, held, now - last if last is not None else 0.0)
        self._remember(key, now)
        self.logger.log(level, fmt, *args)
        return True

    def _remember(self, key: str, now: float) -> None:
        self._last.pop(key, None)
        if len(self._last) >= MAX_KEYS:
            oldest = next(iter(self._last))
            del self._last[oldest]
            self._held.pop(oldest, None)
        self._last[key] = now
