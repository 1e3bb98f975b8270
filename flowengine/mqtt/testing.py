"""Test and benchmark helpers: a paho peer client and an event loop on a thread.

Tests drive an :class:`~flowengine.mqtt.MqttLink` on :class:`LoopThread` and talk
to it through a real broker with :class:`MqttPeer`, so both ends are real MQTT.
"""

from __future__ import annotations

import asyncio
import queue
import ssl
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

T = TypeVar("T")


class LoopThread:
    """An asyncio loop on a daemon thread; ``call`` runs coroutines on it from plain code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="mqtt-test-loop", daemon=True)
        self.thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def run(self, fn: Callable[..., T], *args: Any, timeout: float = 15.0) -> T:
        """Run a plain function on the loop thread and return its result."""

        async def call_fn() -> T:
            return fn(*args)

        return self.call(call_fn(), timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class MqttPeer:
    """A paho client on its own network thread that records what it receives."""

    def __init__(
        self,
        port: int,
        client_id: str = "",
        *,
        clean_session: bool = True,
        host: str = "127.0.0.1",
        ca_file: str | None = None,
        max_inflight: int = 20,
    ) -> None:
        self.messages: queue.Queue[tuple[str, bytes, int, bool]] = queue.Queue()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session)
        if ca_file:
            self.client.tls_set_context(ssl.create_default_context(cafile=ca_file))
        self.client.max_inflight_messages_set(max_inflight)
        self.client.reconnect_delay_set(0.1, 0.5)  # type: ignore[arg-type]  # floats work: it only sleeps
        self.client.on_connect = lambda c, u, f, rc, p: self._connected.set() if not rc.is_failure else None
        self.client.on_disconnect = lambda c, u, f, rc, p: self._connected.clear()
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port, 30)
        self.client.loop_start()
        self.wait_connected()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.messages.put((msg.topic, bytes(msg.payload), msg.qos, msg.retain))

    def wait_connected(self, timeout: float = 10.0) -> None:
        if not self._connected.wait(timeout):
            raise AssertionError(f"peer did not connect within {timeout}s")

    def subscribe(self, topic_filter: str, qos: int = 1, timeout: float = 5.0) -> None:
        """Subscribe and wait for the broker's SUBACK."""
        self._subscribed.clear()
        self.client.subscribe(topic_filter, qos)
        if not self._subscribed.wait(timeout):
            raise AssertionError(f"no SUBACK for {topic_filter} within {timeout}s")

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        """Publish and wait until it is acknowledged (QoS 1) or written (QoS 0)."""
        self.client.publish(topic, payload, qos, retain).wait_for_publish(5)

    def take(self, count: int = 1, timeout: float = 5.0) -> list[tuple[str, bytes, int, bool]]:
        """The next ``count`` messages received; fail after ``timeout`` seconds without one."""
        got = []
        for _ in range(count):
            try:
                got.append(self.messages.get(timeout=timeout))
            except queue.Empty:
                raise AssertionError(f"peer got {len(got)} of {count} message(s) within {timeout}s") from None
        return got

    def nothing(self, within: float = 0.3) -> bool:
        """True when no message arrives within ``within`` seconds."""
        try:
            self.messages.get(timeout=within)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
