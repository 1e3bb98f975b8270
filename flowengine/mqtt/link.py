"""The device's MQTT connection: paho-mqtt driven by the asyncio loop, supervised by us.

paho's network calls (``loop_read``/``loop_write``/``loop_misc``) run on the
event loop thread, woken by ``add_reader``, so paho's callbacks - and every
subscriber callback - already run on the loop thread: no hand-over, no locks.
Only the blocking connect (DNS, TCP, TLS handshake) runs in a worker thread;
the socket is watched once it returns. Reconnects are scheduled here with
jittered exponential back-off, never by paho, and every state change is one
log line. Credentials never reach a log.

With an offline store (``--offline-store``) durable publishes wait on disk
instead of in memory while the broker is out of reach (:mod:`flowengine.mqtt.offline`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from flowengine.config import MqttSettings
from flowengine.errors import LinkError
from flowengine.mqtt.backoff import Backoff
from flowengine.mqtt.client import BufferedClient, PublicClient
from flowengine.mqtt.guard import fast_path_problem
from flowengine.mqtt.offline import REPLAY_RATE, DurableSpool, OfflineStats, trace_durable
from flowengine.mqtt.outbox import DEFAULT_QUEUE_LIMIT, MemoryOutbox, Outbox, Outgoing
from flowengine.mqtt.reasons import connect_error, lost_reason, refusal
from flowengine.mqtt.subscriptions import MessageCallback, Received, Subscription, SubscriptionTable
from flowengine.mqtt.tls import tls_context
from flowengine.mqtt.topics import check_filter, check_topic

if TYPE_CHECKING:
    from flowengine.mqtt.offline_store import OfflineStore

log = logging.getLogger("flowengine.mqtt")

#: Packets handled per turn of the event loop before the nodes get theirs (bounds their inboxes).
READ_BUDGET = 200
#: Queued publishes handed to paho per loop iteration after a reconnect.
FLUSH_CHUNK = 500
#: QoS 1 publishes paho keeps in flight at once: 0 is no limit. paho's default of 20 throttles a
#: busy device, and any limit costs a scan of every unacknowledged message per PUBACK; MQTT 3.1.1
#: sets no limit and TCP paces the sender.
MAX_INFLIGHT = 0
#: Filters per SUBSCRIBE packet when resubscribing.
SUBSCRIBE_CHUNK = 100

StateListener = Callable[[bool, str], None]
#: Linux's option to send a pending ACK at once (None elsewhere).
_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


@dataclass(frozen=True)
class LinkStats:
    """Counters of a link (a snapshot)."""

    published: int  # acknowledged by the broker (QoS 1) or written (QoS 0)
    queued: int  # waiting in the outbox for a connection
    dropped: int  # evicted from a full outbox
    reconnects: int  # successful connections after the first


@dataclass(frozen=True)
class Will:
    """The message the broker publishes for this client when its connection ends without a clean disconnect."""

    topic: str
    payload: bytes = b""
    qos: int = 0
    retain: bool = False


class _LinkLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"[mqtt:{self.extra['link']}] {msg}", kwargs  # type: ignore[index]


class MqttLink:
    """One MQTT 3.1.1 connection shared by every node that publishes or subscribes through it.

    Call every method on the event loop thread. ``start`` returns after the
    first connection attempt (connected or not); the link keeps retrying
    until ``close``. Given an ``offline_store``, the link owns it (and closes it);
    stored messages are replayed at up to ``replay_rate`` per second (None: unpaced).
    A ``will`` is handed to the broker with every connect. ``fast_path`` forces the
    paho client: None lets :func:`~flowengine.mqtt.guard.fast_path_problem` decide.
    """

    def __init__(
        self,
        settings: MqttSettings,
        name: str = "device",
        *,
        outbox: Outbox | None = None,
        queue_limit: int = DEFAULT_QUEUE_LIMIT,
        backoff: Backoff | None = None,
        connect_timeout: float = 5.0,
        force_tls: bool = False,
        offline_store: OfflineStore | None = None,
        offline_problem: str | None = None,
        replay_rate: float | None = REPLAY_RATE,
        will: Will | None = None,
        fast_path: bool | None = None,
    ) -> None:
        self.settings = settings
        self.name = name
        self.where = f"{settings.host}:{settings.port}"
        self.log = _LinkLog(log, {"link": name})
        self._outbox: Outbox = outbox if outbox is not None else MemoryOutbox(queue_limit)
        self._spool = None if offline_store is None else DurableSpool(offline_store, self._send, rate=replay_rate)
        self._offline_problem = offline_problem
        self._backoff = backoff or Backoff()
        self._connect_timeout = connect_timeout
        self._subs = SubscriptionTable()
        self._sub_requests: dict[int, list[str]] = {}
        self._pending: dict[int, Outgoing] = {}
        self._listeners: list[StateListener] = []
        self._published = self._dropped = self._connects = self._packets = self._budget_end = 0
        self._connected = self._closing = self._closed = False
        self._refusal: str | None = None
        self.last_error: str | None = None  # why the last attempt or connection ended (None: none has)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_id: int | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._attempted: asyncio.Event | None = None
        self._ended: asyncio.Future[str] | None = None
        self._connecting: concurrent.futures.Future[Any] | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._watched: Any = None
        self._writer_added = self._write_scheduled = self._flush_scheduled = self._read_scheduled = False
        self._will = will
        self._fast_path = fast_path
        self._client = self._make_client(tls_context(settings, force=force_tls))

    def _make_client(self, ssl_context: ssl.SSLContext | None) -> BufferedClient | PublicClient:
        s = self.settings
        fast = self._fast_path if self._fast_path is not None else fast_path_problem() is None
        client = (BufferedClient if fast else PublicClient)(
            CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            clean_session=s.clean_session,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        if s.username is not None:
            client.username_pw_set(s.username, s.password)
        if self._will is not None:
            check_topic(self._will.topic)
            _check_qos(self._will.qos)
            client.will_set(self._will.topic, self._will.payload, self._will.qos, self._will.retain)
        if ssl_context is not None:
            client.tls_set_context(ssl_context)
            if s.tls_insecure:
                client.tls_insecure_set(True)
        client.connect_timeout = self._connect_timeout
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        return client

    # -- public surface ---------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def stats(self) -> LinkStats:
        return LinkStats(self._published, len(self._outbox), self._dropped, max(0, self._connects - 1))

    @property
    def socket(self) -> Any:
        """The connected socket (diagnostics and tests), None while down."""
        return self._watched

    def offline_stats(self) -> OfflineStats:
        """Where durable messages wait while the broker is out of reach: the store, or the memory queue."""
        if self._spool is not None:
            return self._spool.stats()
        mode = "memory" if self._offline_problem is None else "memory (offline store unavailable)"
        return OfflineStats(mode, len(self._outbox), self._dropped, 0, None, 0, 0)

    def add_state_listener(self, callback: StateListener) -> None:
        """Call ``callback(connected, reason)`` on every connect and disconnect."""
        self._listeners.append(callback)

    def remove_state_listener(self, callback: StateListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(callback)

    async def start(self, wait: bool = True) -> None:
        """Begin connecting; with ``wait``, return after the first attempt (connected or not)."""
        if self._supervisor is not None or self._closed:
            return
        self._loop = asyncio.get_running_loop()
        self._thread_id = threading.get_ident()
        self._attempted = asyncio.Event()
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"mqtt-connect-{self.name}")
        if self._spool is not None:
            self._spool.start(self._loop)
        self._supervisor = self._loop.create_task(self._supervise(), name=f"mqtt:{self.name}")
        if not wait:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._attempted.wait(), self._connect_timeout * 2 + 1)

    def subscribe(self, topic_filter: str, qos: int, callback: MessageCallback) -> Subscription:
        """Call ``callback(topic, payload)`` on the loop thread for every matching message.

        ``payload`` is :class:`Received` (bytes with ``qos`` and ``retain``).
        Subscriptions survive reconnects: everything is resubscribed each time.
        """
        check_filter(topic_filter)
        _check_qos(qos)
        sub = Subscription(topic_filter, qos, callback)
        if self._subs.add(sub) and self._connected:
            self._send_subscribe([(topic_filter, self._subs.qos(topic_filter))])
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop ``sub``; the broker is told when no one else uses its filter."""
        if self._subs.remove(sub) and self._connected:
            self._client.unsubscribe(sub.topic_filter)

    def publish(
        self,
        topic: str,
        payload: bytes | bytearray | str,
        qos: int | None = None,
        retain: bool = False,
        *,
        durable: bool = False,
    ) -> asyncio.Future[None]:
        """Publish; the future settles when the broker acknowledged it (QoS 1) or it was written (QoS 0).

        While disconnected the publish waits in the outbox (oldest dropped when
        full: the future then fails with :class:`LinkError`). With an offline
        store, a ``durable`` message waits on disk instead and its future settles
        once it is there.
        """
        qos = self.settings.qos if qos is None else qos
        check_topic(topic)
        _check_qos(qos)
        data = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
        loop = self._loop or asyncio.get_running_loop()
        item = Outgoing(topic, data, qos, retain, loop.create_future(), durable=durable)
        if self._spool is not None and self._spool.wants(item, self._connected):
            self._spool.put(item)
        elif self._connected and not len(self._outbox):
            self._trace(item, "sent")
            self._send(item)
        else:
            self._trace(item, "queued")
            self._enqueue(item)
        return item.future  # type: ignore[return-value]

    async def close(self, timeout: float = 2.0) -> None:
        """Wait up to ``timeout`` for queued publishes, disconnect cleanly, stop retrying. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._spool is not None:
            await self._spool.stop_replay()  # what is stored stays stored for the next start
        if self._supervisor is not None:
            if self._connected:
                await self._wait_idle(timeout)
            self._closing = True
            await self._disconnect()
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
            await self._abandon_connect()
        self._closing = True
        self._unwatch()
        if self._connected:  # no clean disconnect: keep unacknowledged durable messages all the same
            self._rescue()
        self._connected = False
        if self._spool is not None:
            await self._spool.close()
        self._fail_everything(LinkError(f"mqtt link {self.name!r} closed"))

    # -- supervision ------------------------------------------------------------------

    async def _supervise(self) -> None:
        assert self._attempted is not None
        while not self._closing:
            try:
                reason = await self._session()
            except Exception as exc:  # the supervisor never dies
                self.log.exception("unexpected failure")
                reason = f"unexpected failure: {exc}"
            self.last_error = reason
            self._attempted.set()
            if self._closing:
                return
            delay = self._backoff.next()
            self.log.warning("%s; retrying in %.3g s", reason, delay)
            await asyncio.sleep(delay)

    async def _session(self) -> str:
        """One connection from attempt to end; returns why it ended."""
        assert self._loop is not None and self._executor is not None
        self._refusal = None
        self._ended = self._loop.create_future()
        s = self.settings
        self._connecting = self._executor.submit(self._client.connect, s.host, s.port, s.keepalive)
        try:
            await asyncio.wrap_future(self._connecting)
        except (OSError, ValueError) as exc:
            return f"cannot connect to {self.where}: {connect_error(exc, s.host)}"
        self._watch()
        keeper = self._loop.create_task(self._housekeeping(), name=f"mqtt:{self.name}:keepalive")
        try:
            return await self._ended
        finally:
            keeper.cancel()
            self._unwatch()

    async def _housekeeping(self) -> None:
        """Keepalive pings and the CONNACK deadline (paho's ``loop_misc``)."""
        assert self._loop is not None
        deadline = self._loop.time() + self._connect_timeout
        while self._watched is not None:
            await asyncio.sleep(min(1.0, self._connect_timeout / 2))
            if not self._connected and self._loop.time() > deadline:
                self._end(f"no answer from {self.where} within {self._connect_timeout:g} s")
                return
            self._client.loop_misc()

    def _end(self, reason: str) -> None:
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(reason)

    async def _disconnect(self) -> None:
        if not self._connected or self._ended is None:
            return
        self._client.disconnect()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._ended), 1.0)

    async def _abandon_connect(self) -> None:
        """After close: let a connect still running in the worker finish, then drop its socket."""
        if self._connecting is not None and not self._connecting.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.wrap_future(self._connecting), self._connect_timeout + 1)
        sock = self._client.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False)

    async def _wait_idle(self, timeout: float) -> None:
        assert self._loop is not None
        deadline = self._loop.time() + timeout
        while (self._pending or len(self._outbox)) and self._connected and self._loop.time() < deadline:
            await asyncio.sleep(0.01)

    # -- paho callbacks (all on the loop thread once connected) ------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self._refusal = refusal(reason)
            return
        self._connected = True
        if self._attempted is not None:
            self._attempted.set()
        self._backoff.reset()
        self._connects += 1
        resumed = " (session resumed)" if flags.session_present else ""
        self.log.info("connected to %s as %s%s", self.where, self.settings.client_id, resumed)
        self._ack_now()
        self._resubscribe()
        self._schedule_flush()
        if self._spool is not None:
            self._spool.connected()
        self._notify(True, "connected")

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if self._refusal is not None:
            why = f"{self.where} refused the connection: {self._refusal}"
        elif self._closing:
            why = "closed"
        else:
            why = f"connection to {self.where} lost ({lost_reason(reason)})"
        was_connected, self._connected = self._connected, False
        self._rescue()
        self._fail_unsent_qos0()
        if was_connected:
            self._notify(False, why)
        self._end(why)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._count_packet()
        topic = message.topic
        subs = self._subs.matching(topic)
        if not subs:
            return
        payload = Received(message.payload, message.qos, message.retain)
        for sub in subs:
            try:
                sub.callback(topic, payload)
            except Exception:
                self.log.exception("subscriber of %s failed on %s", sub.topic_filter, topic)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        self._count_packet()
        item = self._pending.pop(mid, None)
        if item is None:
            return
        self._published += 1
        if item.future is not None and not item.future.done():
            item.future.set_result(None)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        self._ack_now()
        filters = self._sub_requests.pop(mid, [])
        refused = [f for f, rc in zip(filters, reasons, strict=False) if rc.is_failure]
        if refused:
            self.log.warning("broker refused subscription to %s", ", ".join(refused))

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        """Runs in the connect worker: turn Nagle off (paho leaves it on: ~40 ms per request)."""
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _ack_now(self) -> None:
        """Acknowledge what was just read at once (CONNACK, SUBACK), not after the delayed-ACK timer.

        A broker with Nagle on (mosquitto's default) holds the next message for this client
        until its last packet is acknowledged, and the client answers a SUBACK with nothing
        it could carry the ACK on: without this the first request waits up to 40 ms.
        """
        sock: Any = self._client.socket()
        if sock is not None and _QUICKACK is not None:
            with contextlib.suppress(OSError, AttributeError, TypeError):
                sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)

    def _on_socket_close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        if self._on_loop_thread() and sock is self._watched:
            self._unwatch()

    def _on_register_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        if self._on_loop_thread() and self._watched is not None and not self._write_scheduled:
            self._write_scheduled = True
            self._loop.call_soon(self._write)  # type: ignore[union-attr]

    def _on_unregister_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        if self._on_loop_thread() and self._writer_added:
            self._writer_added = False
            self._loop.remove_writer(sock)  # type: ignore[union-attr]

    # -- socket watching --------------------------------------------------------------

    def _on_loop_thread(self) -> bool:
        return threading.get_ident() == self._thread_id

    def _watch(self) -> None:
        assert self._loop is not None
        self._watched = self._client.socket()
        self._loop.add_reader(self._watched, self._read)
        if self._client.want_write():
            self._write_scheduled = True
            self._loop.call_soon(self._write)

    def _unwatch(self) -> None:
        sock, self._watched = self._watched, None
        if sock is None or self._loop is None:
            return
        self._loop.remove_reader(sock)
        if self._writer_added:
            self._writer_added = False
            self._loop.remove_writer(sock)

    def _read(self) -> None:
        """Handle what arrived, up to the budget; the rest waits for the next turn of the loop."""
        self._read_scheduled = False
        client = self._client
        client.reading = True
        self._budget_end = self._packets + READ_BUDGET
        while client.reading:
            before = self._packets
            if client.loop_read() != mqtt.MQTT_ERR_SUCCESS or self._watched is None:
                return
            if self._packets == before:
                break
        sock = self._watched
        if client.buffered() or (isinstance(sock, ssl.SSLSocket) and sock.pending()):
            self._schedule_read()

    def _schedule_read(self) -> None:
        if not self._read_scheduled:
            self._read_scheduled = True
            self._loop.call_soon(self._read)  # type: ignore[union-attr]

    def _count_packet(self) -> None:
        self._packets += 1
        if self._packets >= self._budget_end:
            self._client.reading = False

    def _write(self) -> None:
        self._write_scheduled = False
        if self._watched is None:
            return
        self._client.loop_write()
        if self._watched is not None and self._client.want_write() and not self._writer_added:
            self._writer_added = True
            self._loop.add_writer(self._watched, self._write)  # type: ignore[union-attr]

    # -- publishing -------------------------------------------------------------------

    def _send(self, item: Outgoing) -> None:
        info = self._client.publish(item.topic, item.payload, item.qos, item.retain)
        if info.rc == mqtt.MQTT_ERR_SUCCESS or (info.rc == mqtt.MQTT_ERR_NO_CONN and item.qos > 0):
            self._pending[info.mid] = item  # QoS 1 without a connection: paho resends it after reconnect
        else:
            _fail(item.future, LinkError(f"publish to {item.topic} failed: {mqtt.error_string(info.rc)}"))

    def _rescue(self) -> None:
        """Durable publishes not yet acknowledged go to the offline store too, and the replay pauses."""
        if self._spool is None:
            return
        self._spool.disconnected()
        handed_over = {id(item) for item in self._spool.rescue(list(self._pending.values()))}
        if handed_over:
            self._pending = {mid: it for mid, it in self._pending.items() if id(it) not in handed_over}

    def _trace(self, item: Outgoing, outcome: str) -> None:
        if item.durable:
            trace_durable(item.topic, item.payload, outcome)

    def _enqueue(self, item: Outgoing) -> None:
        evicted = self._outbox.put(item)
        if evicted is None:
            return
        self._dropped += 1
        if self._dropped == 1 or self._dropped % 1000 == 0:
            self.log.warning("offline queue full: dropped %d oldest publish(es) so far", self._dropped)
        _fail(evicted.future, LinkError(f"publish to {evicted.topic} dropped: offline queue full"))

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled and len(self._outbox):
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)  # type: ignore[union-attr]

    def _flush(self) -> None:
        """Hand queued publishes to paho in order, a chunk per loop iteration."""
        self._flush_scheduled = False
        for _ in range(FLUSH_CHUNK):
            item = self._outbox.peek() if self._connected else None
            if item is None:
                return
            self._send(item)
            self._outbox.ack()
        self._schedule_flush()

    def _fail_unsent_qos0(self) -> None:
        lost = [mid for mid, item in self._pending.items() if item.qos == 0]
        for mid in lost:
            item = self._pending.pop(mid)
            _fail(item.future, LinkError(f"connection lost before the publish to {item.topic} was written"))

    def _fail_everything(self, error: LinkError) -> None:
        for item in self._pending.values():
            _fail(item.future, error)
        self._pending.clear()
        while (waiting := self._outbox.peek()) is not None:
            _fail(waiting.future, error)
            self._outbox.ack()

    # -- subscribing and state --------------------------------------------------------

    def _resubscribe(self) -> None:
        filters = self._subs.filters()
        for start in range(0, len(filters), SUBSCRIBE_CHUNK):
            self._send_subscribe(filters[start : start + SUBSCRIBE_CHUNK])

    def _send_subscribe(self, filters: list[tuple[str, int]]) -> None:
        rc, mid = self._client.subscribe(filters)
        if rc == mqtt.MQTT_ERR_SUCCESS and mid is not None:
            self._sub_requests[mid] = [f for f, _ in filters]

    def _notify(self, connected: bool, reason: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(connected, reason)
            except Exception:
                self.log.exception("state listener failed")

    def __repr__(self) -> str:
        state = "connected" if self._connected else "disconnected"
        return f"<MqttLink {self.name} {self.where} {state}>"


def _check_qos(qos: int) -> None:
    if qos not in (0, 1, 2):
        raise LinkError(f"qos must be 0, 1 or 2 (got {qos!r})")


def _fail(future: asyncio.Future[None] | None, error: Exception) -> None:
    if future is not None and not future.done():
        future.set_exception(error)
        future.exception()  # retrieved: an unawaited failed publish is not a "never retrieved" warning
