"""``AsyncFlexClient``: a platform's FlexAPI client for asyncio programs.

One instance is one MQTT connection and one device; :meth:`AsyncFlexClient.device`
gives the same calls for another device over the same connection, so a fleet is
one connection and ``asyncio.gather`` over its devices. Use it on the event loop
it connected on; any number of tasks may call it at once.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from flowengine.mqtt import StateListener, Subscription
from nodes.flexapi.client import calls
from nodes.flexapi.client.api import FlexApiCalls
from nodes.flexapi.client.calls import Body
from nodes.flexapi.client.connection import Connection, Response, decode_object, platform_settings
from nodes.flexapi.client.errors import error_for
from nodes.flexapi.topics import topic_root

log = logging.getLogger(__name__)

#: Seconds a connection attempt may take at least, however short the request timeout (a TLS handshake).
MIN_CONNECT_TIMEOUT = 2.0
#: ``callback(path, payload)``: the topic below the device's root and the raw payload.
RawCallback = Callable[[str, bytes], Any]
#: ``callback(values)``: a decoded JSON object.
ValuesCallback = Callable[[dict[str, Any]], Any]


class Listening:
    """A subscription made by a client; :meth:`cancel` ends it (from any thread)."""

    def __init__(self, connection: Connection, sub: Subscription) -> None:
        self._connection = connection
        self._sub = sub
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    @property
    def topic_filter(self) -> str:
        return self._sub.topic_filter

    def cancel(self) -> None:
        if threading.get_ident() == self._thread:
            self._connection.unlisten(self._sub)
        else:
            self._loop.call_soon_threadsafe(self._connection.unlisten, self._sub)


class AsyncFlexClient(FlexApiCalls[Awaitable[Any]]):
    """FlexAPI requests to a device, as coroutines: ``await client.refresh("gnss")``.

    ``async with AsyncFlexClient(host, port, client_id) as client:`` connects and
    closes. Each request carries a fresh ``client_token`` (or ``token=``) and
    returns the response's ``result``; an error response raises the class of its
    code (:mod:`nodes.flexapi.client.errors`), no answer within ``timeout``
    seconds raises :class:`RequestTimeout`. Requests on one topic are spaced by
    the device's minimum retry interval, and one refused ``device_busy`` (another
    platform was first) is sent again after that interval when the answer can
    still come within ``timeout``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        *,
        topic_prefix: str = "",
        username: str | None = None,
        password: str | None = None,
        tls_ca: str | Path | None = None,
        tls_cert: str | Path | None = None,
        tls_key: str | Path | None = None,
        tls_insecure: bool = False,
        timeout: float = 5.0,
        mqtt_client_id: str | None = None,
    ) -> None:
        settings = platform_settings(
            host,
            port,
            mqtt_client_id,
            topic_prefix=topic_prefix,
            username=username,
            password=password,
            tls_ca=tls_ca,
            tls_cert=tls_cert,
            tls_key=tls_key,
            tls_insecure=tls_insecure,
        )
        connection = Connection(settings, connect_timeout=max(timeout, MIN_CONNECT_TIMEOUT))
        self._bind(connection, client_id, settings.topic_prefix, timeout)
        self._owner = True

    def _bind(self, connection: Connection, client_id: str, prefix: str, timeout: float) -> None:
        self._connection = connection
        self.client_id = calls.check_device(client_id)
        self.topic_prefix = prefix
        self.root = topic_root(client_id, prefix)
        self.timeout = timeout
        self._owner = False
        self._tasks: set[asyncio.Future[Any]] = set()

    def device(self, client_id: str) -> AsyncFlexClient:
        """The same calls for another device, over this client's connection (closing it closes nothing)."""
        view = object.__new__(type(self))
        view._bind(self._connection, client_id, self.topic_prefix, self.timeout)
        return view

    # -- connection ---------------------------------------------------------------------

    async def connect(self) -> AsyncFlexClient:
        """Connect to the broker; raises :class:`flowengine.errors.LinkError` when it cannot."""
        await self._connection.open()
        return self

    async def close(self) -> None:
        """Disconnect (the connection's owner only); requests still waiting fail. Idempotent."""
        if self._owner:
            await self._connection.close()

    async def __aenter__(self) -> AsyncFlexClient:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return self._connection.connected

    def add_state_listener(self, callback: StateListener) -> None:
        """``callback(connected, reason)`` on every connect and disconnect of the connection."""
        self._connection.add_state_listener(callback)

    # -- requests -----------------------------------------------------------------------

    async def request(
        self, topic: str, body: Body = None, *, token: str | None = None, timeout: float | None = None
    ) -> Any:
        """Send ``body`` on ``topic`` below the root (``gnss/refresh``); the ``result``, or the code's error."""
        answer = await self.exchange(topic, body, token=token, timeout=timeout)
        if "error" in answer:
            raise error_for(answer, f"{self.root}/{topic}")
        return answer.get("result")

    async def exchange(
        self, topic: str, body: Body = None, *, token: str | None = None, timeout: float | None = None
    ) -> Response:
        """Like :meth:`request`, but return the whole response, error responses included.

        The token is ``token``, else the body's ``client_token``, else a fresh one.
        """
        path = calls.check_path(topic)
        fields = dict(body or {})
        given = fields.pop("client_token", None)
        chosen = calls.check_token(token if token is not None else given if given is not None else calls.new_token())
        wait = self.timeout if timeout is None else timeout
        return await self._connection.send(f"{self.root}/{path}", chosen, fields, wait, calls.spacing(path))

    # -- subscriptions ------------------------------------------------------------------

    def subscribe(self, group: str, callback: ValuesCallback) -> Listening:
        """``callback(values)`` for every upload of ``group`` (``{group}/info``); it may be a coroutine function."""
        return self.listen(f"{group}/info", self._objects(callback))

    def events(self, callback: ValuesCallback) -> Listening:
        """``callback(event)`` for every event the device reports (``event/notice``)."""
        return self.listen("event/notice", self._objects(callback))

    def listen(self, path_filter: str, callback: RawCallback) -> Listening:
        """``callback(path, payload)`` for every message below the root matching ``path_filter`` (``+/info``, ``#``)."""
        start = len(self.root) + 1

        def deliver(topic: str, payload: bytes) -> None:
            self._run_callback(callback, topic[start:], payload)

        return Listening(self._connection, self._connection.listen(f"{self.root}/{path_filter}", deliver))

    def _objects(self, callback: ValuesCallback) -> RawCallback:
        def decode(path: str, payload: bytes) -> Any:
            values = decode_object(payload)
            if values is None:
                log.warning("%s/%s: payload is not a JSON object, not delivered", self.root, path)
                return None
            return callback(values)

        return decode

    def _run_callback(self, callback: RawCallback, *args: Any) -> None:
        try:
            result = callback(*args)
        except Exception:
            log.exception("callback %r failed", callback)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("callback failed", exc_info=task.exception())

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<{type(self).__name__} {self.root} via {self._connection.link.where} {state}>"
