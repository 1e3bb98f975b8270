"""Jittered exponential back-off for reconnect attempts."""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """Delays that start at ``first``, double up to ``maximum`` and vary by ±``jitter``.

    The jitter keeps a fleet of devices that lost the same broker from coming
    back in lock-step.
    """

    def __init__(
        self,
        first: float = 0.5,
        maximum: float = 30.0,
        jitter: float = 0.2,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not 0 < first <= maximum:
            raise ValueError(f"back-off needs 0 < first <= maximum (got {first}, {maximum})")
        if not 0 <= jitter < 1:
            raise ValueError(f"back-off jitter must be in [0, 1) (got {jitter})")
        self.first = first
        self.maximum = maximum
        self.jitter = jitter
        self._rand = rand
        self._base = first

    def next(self) -> float:
        """The delay before the next attempt; each call doubles the base."""
        base = self._base
        self._base = min(self.maximum, base * 2)
        return base * (1 + self.jitter * (2 * self._rand() - 1))

    def reset(self) -> None:
        """Start again from ``first`` (after a successful connection)."""
        self._base = self.first
