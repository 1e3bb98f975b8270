"""The FlexAPI calls, written once for both clients: each returns what the client's ``request`` returns.

With :class:`~nodes.flexapi.client.FlexClient` that is the result itself; with
:class:`~nodes.flexapi.client.AsyncFlexClient` an awaitable of it. Every call
takes ``token=`` to send a given ``client_token`` instead of a fresh one, and
raises the error class of the device's error code when it answers with an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Generic, TypeVar

from nodes.flexapi.client import calls
from nodes.flexapi.client.calls import Body

R = TypeVar("R")


class FlexApiCalls(Generic[R]):
    """Requests by name; a client implements :meth:`request`."""

    def request(self, topic: str, body: Body = None, *, token: str | None = None, timeout: float | None = None) -> R:
        """Send ``body`` on ``topic`` below the device's root (``gnss/refresh``) and return the ``result``."""
        raise NotImplementedError

    def refresh(self, group: str, *, token: str | None = None) -> R:
        """The group's values now (``{group}/refresh``): a dict of key -> value."""
        return self.request(*calls.refresh(group), token=token)

    def set(
        self,
        group: str,
        interval: int | None = None,
        interest: Mapping[str, str] | None = None,
        *,
        token: str | None = None,
    ) -> R:
        """Change a group's upload interval (s, 0 stops it) and/or interest (key -> alias, "" for none)."""
        return self.request(*calls.set_group(group, interval, interest), token=token)

    def group_set(self, settings: Iterable[Mapping[str, Any]], *, token: str | None = None) -> R:
        """Create, change or remove custom groups (``group/set``): entries of group_name, interval, interest."""
        return self.request(*calls.group_set(settings), token=token)

    def group_get(self, *, token: str | None = None) -> R:
        """Every custom group with its interval and interest (``group/get``)."""
        return self.request(*calls.group_get(), token=token)

    def group_remove(self, *names: str, token: str | None = None) -> R:
        """Remove custom groups by name (``group/set`` with ``interest: null``)."""
        return self.request(*calls.group_remove(names), token=token)

    def userdata_insert(self, values: Mapping[str, Any], *, token: str | None = None) -> R:
        """Add user data keys (``userdata.`` may be left out of the names)."""
        return self.request(*calls.userdata("insert", values), token=token)

    def userdata_update(self, values: Mapping[str, Any], *, token: str | None = None) -> R:
        """Change existing user data keys."""
        return self.request(*calls.userdata("update", values), token=token)

    def userdata_delete(self, values: Mapping[str, Any] | Iterable[str], *, token: str | None = None) -> R:
        """Delete user data keys (a mapping as the device takes it, or just the names)."""
        return self.request(*calls.userdata("delete", values), token=token)

    def userdata_refresh(self, *, token: str | None = None) -> R:
        """The user data values now."""
        return self.request(*calls.refresh("userdata"), token=token)

    def userdata_set_interval(self, interval: int, *, token: str | None = None) -> R:
        """The user data group's upload interval (s)."""
        return self.request(*calls.userdata_interval(interval), token=token)

    def io_control(self, outputs: Mapping[str, int], *, token: str | None = None) -> R:
        """Drive digital outputs: ``{"io.DO1": 1, "io.DO1_pullup": 0}`` (``io.`` may be left out)."""
        return self.request(*calls.io_control(outputs), token=token)

    def io_toggle(self, output: str, value: int, ms: int, *, token: str | None = None) -> R:
        """Set ``output`` (``DO1``) to ``value`` for ``ms`` milliseconds, then back (``io/toggle``)."""
        return self.request(*calls.io_toggle(output, value, ms), token=token)

    def app_control(self, values: Mapping[str, Any], *, token: str | None = None) -> R:
        """Set app values (``app.wifi_mode_2g`` and the keys of the device's app hooks)."""
        return self.request(*calls.app_control(values), token=token)

    def app_refresh(self, *, token: str | None = None) -> R:
        """The app values now."""
        return self.request(*calls.app_refresh(), token=token)
