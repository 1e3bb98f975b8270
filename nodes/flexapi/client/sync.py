"""``FlexClient``: the FlexAPI client for plain (blocking) code, on top of :class:`AsyncFlexClient`.

The async client runs on a private event loop thread; every call is handed
over to it and waited for, so any number of threads can share one client.
Subscription callbacks run one at a time on a callback thread of their own (in
arrival order): they may call the client's blocking methods.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowengine.mqtt.loopthread import LoopThread
from nodes.flexapi.client.aio import AsyncFlexClient, Listening, RawCallback, ValuesCallback
from nodes.flexapi.client.api import FlexApiCalls
from nodes.flexapi.client.calls import Body
from nodes.flexapi.client.connection import Response

log = logging.getLogger(__name__)


class FlexClient(FlexApiCalls[Any]):
    """FlexAPI requests to a device, blocking: ``FlexClient(host, port, client_id).refresh("gnss")``.

    Connects when created (:class:`flowengine.errors.LinkError` when it cannot);
    ``with FlexClient(...) as client:`` closes it at the end. Each request carries
    a fresh ``client_token`` (or ``token=``) and returns the response's ``result``;
    an error response raises the class of its code, no answer within ``timeout``
    seconds raises :class:`RequestTimeout`. Requests on one topic are spaced by the
    device's minimum retry interval (the call waits), and one refused
    ``device_busy`` is sent again after that interval when the answer can still
    come within ``timeout``. :meth:`device` addresses other devices over the same
    connection.
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
        options: dict[str, Any] = dict(topic_prefix=topic_prefix, username=username, password=password)
        options.update(tls_ca=tls_ca, tls_cert=tls_cert, tls_key=tls_key, tls_insecure=tls_insecure, timeout=timeout)
        self._runner = LoopThread(name=f"flexclient-{client_id}"[:60])
        self._callbacks = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="flexclient-callbacks")
        self._owner = True
        try:
            self._async = self._runner.run(_connected(host, port, client_id, mqtt_client_id, options))
        except BaseException:
            self._shutdown()
            raise

    def device(self, client_id: str) -> FlexClient:
        """The same calls for another device, over this client's connection (closing it closes nothing)."""
        view = object.__new__(type(self))
        view._runner, view._callbacks, view._owner = self._runner, self._callbacks, False
        view._async = self._async.device(client_id)
        return view

    @property
    def client_id(self) -> str:
        return self._async.client_id

    @property
    def root(self) -> str:
        return self._async.root

    @property
    def connected(self) -> bool:
        return self._async.connected

    def request(self, topic: str, body: Body = None, *, token: str | None = None, timeout: float | None = None) -> Any:
        """Send ``body`` on ``topic`` below the root (``gnss/refresh``); the ``result``, or the code's error."""
        return self._runner.run(self._async.request(topic, body, token=token, timeout=timeout))

    def exchange(
        self, topic: str, body: Body = None, *, token: str | None = None, timeout: float | None = None
    ) -> Response:
        """Like :meth:`request`, but return the whole response, error responses included."""
        return self._runner.run(self._async.exchange(topic, body, token=token, timeout=timeout))

    def subscribe(self, group: str, callback: ValuesCallback) -> Listening:
        """``callback(values)`` for every upload of ``group`` (``{group}/info``), on the callback thread."""
        return self._on_loop(self._async.subscribe, group, self._handed_over(callback))

    def events(self, callback: ValuesCallback) -> Listening:
        """``callback(event)`` for every event the device reports (``event/notice``), on the callback thread."""
        return self._on_loop(self._async.events, self._handed_over(callback))

    def listen(self, path_filter: str, callback: RawCallback) -> Listening:
        """``callback(path, payload)`` for every message below the root matching ``path_filter``."""
        return self._on_loop(self._async.listen, path_filter, self._handed_over(callback))

    def close(self) -> None:
        """Disconnect and stop the client's threads (the connection's owner only). Idempotent."""
        if self._owner and not self._runner.loop.is_closed():
            try:
                self._runner.run(self._async.close(), timeout=10)
            finally:
                self._shutdown()

    def __enter__(self) -> FlexClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _on_loop(self, fn: Callable[..., Listening], *args: Any) -> Listening:
        async def call() -> Listening:
            return fn(*args)

        return self._runner.run(call())

    def _handed_over(self, callback: Callable[..., Any]) -> Callable[..., None]:
        def submit(*args: Any) -> None:
            self._callbacks.submit(_logged, callback, *args)

        return submit

    def _shutdown(self) -> None:
        self._runner.close()
        self._callbacks.shutdown(wait=False, cancel_futures=True)

    def __repr__(self) -> str:
        return repr(self._async).replace("AsyncFlexClient", type(self).__name__, 1)


async def _connected(
    host: str, port: int, client_id: str, mqtt_client_id: str | None, options: dict[str, Any]
) -> AsyncFlexClient:
    client = AsyncFlexClient(host, port, client_id, mqtt_client_id=mqtt_client_id, **options)
    return await client.connect()


def _logged(callback: Callable[..., Any], *args: Any) -> None:
    try:
        callback(*args)
    except Exception:
        log.exception("callback %r failed", callback)
