"""The latest value of every parameter, one store per device, shared as a runtime service."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from nodes.flexapi.params import PARAMS, type_ok

log = logging.getLogger("flowengine.flexapi.values")

SERVICE = "flexapi.store"


class LatestValues:
    """Latest values by Appendix A key (None = invalid); a value of the wrong JSON type is stored as invalid."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self._warned: set[str] = set()
        self._listeners: list[Callable[[dict[str, Any]], None]] = []

    def update(self, payload: Mapping[str, Any]) -> None:
        fresh = {}
        for key, value in payload.items():
            param = PARAMS.get(key)
            if param is not None and not type_ok(param, value):
                self._warn(key, value, param.json_type)
                value = None
            self.values[key] = fresh[key] = value
        for listener in list(self._listeners):
            listener(fresh)

    def listen(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``callback(values)`` with every update; returns the function that stops it."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def remove(self, keys: Any) -> None:
        for key in keys:
            self.values.pop(key, None)

    def _warn(self, key: str, value: Any, expected: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning("%s: %r is not %s; stored as invalid (logged once per key)", key, value, expected)


def latest_values(services: dict[str, Any]) -> LatestValues:
    """The device's store of latest values (created on first use)."""
    store = services.get(SERVICE)
    if store is None:
        store = services[SERVICE] = LatestValues()
    return store  # type: ignore[no-any-return]
