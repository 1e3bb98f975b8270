"""What the nodes of one runtime share: the device config, the device's link, and typed shared objects.

Shared objects carry no data between nodes (values travel on wires); they are
things of the world that several nodes use, such as a simulated machine that
every simulated sensor reads. Each is keyed by its class, so what a node gets
back is typed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from flowengine.config import DeviceConfig
from flowengine.mqtt.offline import OfflineStats
from flowengine.mqtt.subscriptions import MessageCallback, Subscription

T = TypeVar("T")
StateListener = Callable[[bool, str], None]


class Link(Protocol):
    """The device's connection to its platform, as nodes use it (``MqttLink`` is one)."""

    @property
    def connected(self) -> bool: ...

    def subscribe(self, topic_filter: str, qos: int, callback: MessageCallback) -> Subscription: ...

    def unsubscribe(self, sub: Subscription) -> None: ...

    def publish(
        self,
        topic: str,
        payload: bytes | bytearray | str,
        qos: int | None = None,
        retain: bool = False,
        *,
        durable: bool = False,
    ) -> asyncio.Future[None]:
        """Publish; the future settles when the broker has it. ``durable`` messages wait on disk
        while offline when the link has an offline store."""
        ...

    def offline_stats(self) -> OfflineStats: ...

    def add_state_listener(self, callback: StateListener) -> None: ...

    def remove_state_listener(self, callback: StateListener) -> None: ...


class Services:
    """The shared things of one runtime."""

    def __init__(self, device: DeviceConfig | None = None, link: Link | None = None) -> None:
        self.device: DeviceConfig = device if device is not None else DeviceConfig()
        self.link: Link | None = link
        self._shared: dict[type[Any], Any] = {}

    def get(self, key: type[T]) -> T | None:
        """The shared object of class ``key``, if any."""
        value = self._shared.get(key)
        return value if value is None or isinstance(value, key) else None

    def shared(self, key: type[T], make: Callable[[], T]) -> T:
        """The shared object of class ``key``, made on first use."""
        value = self.get(key)
        if value is None:
            value = self._shared[key] = make()
        return value

    def provide(self, key: type[T], value: T) -> None:
        """Share ``value`` as the object of class ``key`` (replacing any other)."""
        self._shared[key] = value

    def withdraw(self, key: type[T], value: T) -> None:
        """Stop sharing ``value`` (only if it is still the one shared)."""
        if self._shared.get(key) is value:
            del self._shared[key]
