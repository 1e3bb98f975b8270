"""One MQTT connection of a platform: requests to any number of devices, matched to their answers.

Built on :class:`flowengine.mqtt.MqttLink` (reconnects, queueing while offline);
every method runs on the link's event loop. A request subscribes its response
topic before it is published on the same connection, so the broker has the
subscription in place before the device can answer. Answers are matched by
response topic and ``client_token``; anything else on those topics (answers to
other platforms) is ignored.

A request is published only while connected (it waits for the connection
within its timeout), and at QoS 0: the link would otherwise keep it queued, or
MQTT resend it, after a reconnect long after the caller gave up - a stale
``set`` or ``control`` carried out minutes late. A request lost with the
connection ends in a timeout, as a lost answer does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

from pydantic import ValidationError

from flowengine.config import MqttSettings
from flowengine.errors import LinkError
from flowengine.mqtt import MqttLink, StateListener, Subscription
from nodes.flexapi.client.errors import BadRequest, RequestTimeout
from nodes.flexapi.client.spacing import Spacing

log = logging.getLogger(__name__)

Response = dict[str, Any]


class Connection:
    """Sends requests and waits for their answers, spaced per topic (see :mod:`.spacing`)."""

    def __init__(self, settings: MqttSettings, connect_timeout: float = 5.0) -> None:
        self.link = MqttLink(settings, f"platform:{settings.client_id}", connect_timeout=connect_timeout)
        self.link.add_state_listener(self._on_state)
        self.spacing = Spacing()
        self._pending: dict[tuple[str, str], asyncio.Future[Response]] = {}
        self._answers: dict[str, Subscription] = {}  # response topics subscribed to, kept until close
        self._up: asyncio.Event | None = None
        self._closed = False

    async def open(self) -> None:
        """Connect; raise :class:`LinkError` (and stop retrying) when the first attempt fails."""
        self._up = asyncio.Event()
        await self.link.start()
        if self.link.connected:
            self._up.set()
        else:
            why = self.link.last_error or f"no connection to {self.link.where}"
            await self.link.close()
            raise LinkError(why)

    def _on_state(self, connected: bool, reason: str) -> None:
        if self._up is None:
            return
        if connected:
            self._up.set()
        else:
            self._up.clear()

    async def close(self) -> None:
        """Disconnect; requests still waiting fail with :class:`LinkError`. Idempotent."""
        self._closed = True
        for future in self._pending.values():
            if not future.done():
                future.set_exception(LinkError("client closed"))
        await self.link.close()

    @property
    def connected(self) -> bool:
        return self.link.connected

    def add_state_listener(self, callback: StateListener) -> None:
        self.link.add_state_listener(callback)

    async def send(self, topic: str, token: str, body: dict[str, Any], timeout: float, interval: float) -> Response:
        """A request as the device wants it: after the topic's ``interval``, once more after ``device_busy``.

        ``timeout`` runs from the first publish; the retry waits ``interval``
        first and is made only when its answer can still come within it.
        """
        loop = asyncio.get_running_loop()
        async with self.spacing.turn(topic, interval) as turn:
            turn.counts = True  # unknown until answered: a lost answer may hide an accepted request
            deadline = loop.time() + timeout
            try:
                answer = await self.exchange(topic, token, body, timeout)
                if answer.get("error") == "device_busy" and loop.time() + interval < deadline:
                    log.info("%s: device busy, retrying in %g s", topic, interval)
                    await asyncio.sleep(interval)
                    answer = await self.exchange(topic, token, body, deadline - loop.time())
            except RequestTimeout:
                raise RequestTimeout(topic, timeout) from None
            turn.counts = "error" not in answer
            return answer

    async def exchange(self, topic: str, token: str, body: dict[str, Any], timeout: float) -> Response:
        """Publish one request and return its answer (any envelope); :class:`RequestTimeout` without one."""
        if self._closed or self._up is None:
            raise LinkError("client closed" if self._closed else "client not connected (call connect first)")
        loop = asyncio.get_running_loop()
        started = loop.time()
        await self._connection_within(timeout)
        answer_topic = f"{topic}/resp"
        key = (answer_topic, token)
        if key in self._pending:
            raise LinkError(f"a request with token {token!r} is already waiting on {answer_topic}")
        self._expect(answer_topic)
        future: asyncio.Future[Response] = loop.create_future()
        self._pending[key] = future
        try:
            self.link.publish(topic, json.dumps({"client_token": token, **body}, ensure_ascii=False), qos=0)
            return await asyncio.wait_for(future, timeout - (loop.time() - started))
        except TimeoutError:
            raise RequestTimeout(topic, timeout) from None
        finally:
            self._pending.pop(key, None)

    async def _connection_within(self, timeout: float) -> None:
        assert self._up is not None
        if self._up.is_set():
            return
        try:
            await asyncio.wait_for(self._up.wait(), timeout)
        except TimeoutError:
            why = self.link.last_error or "disconnected"
            raise LinkError(f"no connection to the broker within {timeout:g} s ({why})") from None

    def listen(self, topic_filter: str, callback: Any) -> Subscription:
        """``callback(topic, payload)`` for every message on ``topic_filter`` (on the loop thread)."""
        return self.link.subscribe(topic_filter, 1, callback)

    def unlisten(self, sub: Subscription) -> None:
        self.link.unsubscribe(sub)

    def _expect(self, answer_topic: str) -> None:
        if answer_topic not in self._answers:
            self._answers[answer_topic] = self.link.subscribe(answer_topic, 1, self._on_answer)

    def _on_answer(self, topic: str, payload: bytes) -> None:
        answer = decode_object(payload)
        token = answer.get("client_token") if answer is not None else None
        if not isinstance(token, str):
            return
        future = self._pending.get((topic, token))
        if future is not None and not future.done():
            future.set_result(answer)  # type: ignore[arg-type]


def decode_object(payload: bytes) -> dict[str, Any] | None:
    """A JSON object from a payload, or None when it is anything else."""
    try:
        value = json.loads(payload)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def platform_settings(host: str, port: int, mqtt_client_id: str | None = None, **options: Any) -> MqttSettings:
    """The platform's MQTT settings: a clean session under its own (random by default) MQTT client id.

    ``options`` are :class:`MqttSettings` fields (``username``, ``tls_ca``, ``topic_prefix`` ...).
    """
    client_id = mqtt_client_id or f"flexclient-{uuid.uuid4().hex[:12]}"
    fields = {"host": host, "port": port, "client_id": client_id, "clean_session": True, **options}
    try:
        return MqttSettings.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise BadRequest(f"connection settings: {problems}") from None
