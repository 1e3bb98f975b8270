"""Where publishes wait while the link is down: a small protocol and the in-memory queue.

The link only needs ``put``/``peek``/``ack``, so an on-disk store (the offline
data store for durable publishes) can take the in-memory queue's place.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

#: Publishes the in-memory outbox keeps while disconnected before dropping the oldest.
DEFAULT_QUEUE_LIMIT = 10_000


@dataclass(slots=True)
class Outgoing:
    """One publish on its way to the broker; ``future`` settles when it is acknowledged."""

    topic: str
    payload: bytes
    qos: int
    retain: bool = False
    future: asyncio.Future[None] | None = field(default=None, compare=False, repr=False)
    stored: bool = field(default=False, compare=False)  # also kept in the offline store (never stored twice)
    durable: bool = field(default=False, compare=False)  # kept in the offline store while the broker is away


class Outbox(Protocol):
    """A first-in first-out store of publishes waiting for a connection."""

    def put(self, item: Outgoing) -> Outgoing | None:
        """Store ``item``; return an older item evicted to make room, if any."""
        ...

    def peek(self) -> Outgoing | None:
        """The oldest waiting item, without removing it (None when empty)."""
        ...

    def ack(self) -> None:
        """Forget the item ``peek`` returned: it is now in the client's session."""
        ...

    def __len__(self) -> int: ...


class MemoryOutbox:
    """A bounded in-memory outbox that drops the oldest item when full."""

    def __init__(self, limit: int = DEFAULT_QUEUE_LIMIT) -> None:
        if limit < 1:
            raise ValueError(f"outbox limit must be at least 1 (got {limit})")
        self.limit = limit
        self._items: deque[Outgoing] = deque()

    def put(self, item: Outgoing) -> Outgoing | None:
        evicted = self._items.popleft() if len(self._items) >= self.limit else None
        self._items.append(item)
        return evicted

    def peek(self) -> Outgoing | None:
        return self._items[0] if self._items else None

    def ack(self) -> None:
        if self._items:
            self._items.popleft()

    def __len__(self) -> int:
        return len(self._items)
