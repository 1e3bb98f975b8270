"""Subscriptions of a link: several callbacks may share one topic filter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from paho.mqtt.client import topic_matches_sub

#: Called on the event loop thread with the topic and the payload.
MessageCallback = Callable[[str, bytes], None]

#: Distinct topics whose matching subscriptions are remembered (cleared when full).
MATCH_CACHE_SIZE = 4096


class Received(bytes):
    """An incoming payload: ``bytes`` that also carry the message's ``qos`` and ``retain`` flags."""

    qos: int
    retain: bool

    def __new__(cls, data: bytes | bytearray, qos: int = 0, retain: bool = False) -> Received:
        obj = super().__new__(cls, data)
        obj.qos = qos
        obj.retain = retain
        return obj


@dataclass(eq=False)
class Subscription:
    """One callback's interest in a topic filter; hand it back to ``unsubscribe``."""

    topic_filter: str
    qos: int
    callback: MessageCallback


class SubscriptionTable:
    """Callbacks by topic filter, with a per-topic cache of who matches.

    A topic is looked up directly among the filters without wildcards and
    matched only against those with one, so thousands of exact filters (one
    reply topic per peer, say) cost no scan per message.
    """

    def __init__(self) -> None:
        self._by_filter: dict[str, list[Subscription]] = {}
        self._wildcards: dict[str, None] = {}  # the filters with + or #, in subscription order
        self._cache: dict[str, tuple[Subscription, ...]] = {}

    def add(self, sub: Subscription) -> bool:
        """Record ``sub``; True when the broker must be told (new filter or higher QoS)."""
        if "+" in sub.topic_filter or "#" in sub.topic_filter:
            self._wildcards[sub.topic_filter] = None
        subs = self._by_filter.setdefault(sub.topic_filter, [])
        before = max((s.qos for s in subs), default=-1)
        subs.append(sub)
        self._cache.clear()
        return sub.qos > before

    def remove(self, sub: Subscription) -> bool:
        """Forget ``sub``; True when its filter has no subscriber left."""
        subs = self._by_filter.get(sub.topic_filter, [])
        if sub not in subs:
            return False
        subs.remove(sub)
        self._cache.clear()
        if subs:
            return False
        del self._by_filter[sub.topic_filter]
        self._wildcards.pop(sub.topic_filter, None)
        return True

    def qos(self, topic_filter: str) -> int:
        """The QoS to subscribe a filter with: the highest any subscriber asked for."""
        return max(s.qos for s in self._by_filter[topic_filter])

    def filters(self) -> list[tuple[str, int]]:
        """Every filter with its QoS, for (re)subscribing."""
        return [(f, self.qos(f)) for f in self._by_filter]

    def matching(self, topic: str) -> tuple[Subscription, ...]:
        """Subscriptions whose filter matches ``topic`` (MQTT wildcard rules)."""
        found = self._cache.get(topic)
        if found is None:
            wild = (s for f in self._wildcards if topic_matches_sub(f, topic) for s in self._by_filter[f])
            found = (*self._by_filter.get(topic, ()), *wild)
            if len(self._cache) >= MATCH_CACHE_SIZE:
                self._cache.clear()
            self._cache[topic] = found
        return found

    def __len__(self) -> int:
        return sum(len(s) for s in self._by_filter.values())
