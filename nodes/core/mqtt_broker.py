"""``mqtt-broker``: a config node that owns one MQTT connection for the mqtt in/out nodes using it.

Also home of what mqtt in and mqtt out share: finding their link (a broker node
or the device's own connection) and showing its state as their status.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator

from flowengine.config import MqttSettings, check_client_id
from flowengine.errors import LinkError, NodeError
from flowengine.mqtt import MqttLink, Will, topic_problem
from flowengine.node import ConfigT, Node, NodeConfig
from flowengine.services import Link

_PLAIN_SCHEMES = {"mqtt": False, "tcp": False, "mqtts": True, "ssl": True, "tls": True}


class MqttBrokerConfig(NodeConfig):
    broker: str = Field(default="localhost", description="Host name or address, or a mqtt:// / mqtts:// URL.")
    port: int | None = Field(default=None, description="TCP port; empty means 1883 (8883 with TLS).")
    clientid: str = Field(default="", description="Client id; empty gets a random one, as Node-RED does.")
    usetls: bool = Field(default=False, description="Connect with TLS (the system's CA certificates).")
    tls: str = Field(default="", description="Node-RED tls-config node id; not used (use the device's TLS flags).")
    keepalive: int = Field(default=60, description="Keepalive in seconds.")
    cleansession: bool = Field(default=True, description="Start a clean session on each connect.")
    protocolVersion: int = Field(default=4, description="4 (MQTT 3.1.1) is the one supported.")
    user: str = Field(default="", description="User name (or credentials.user).")
    password: str = Field(default="", repr=False, description="Password (or credentials.password).")
    credentials: dict[str, Any] = Field(default_factory=dict, repr=False, description="Node-RED credentials.")
    birthTopic: str = Field(default="", description="Published on every connect (empty: none), e.g. a presence topic.")
    birthPayload: Any = Field(default="", description="Payload of the birth message (text; an object as JSON).")
    birthQos: int = Field(default=0, ge=0, le=2, description="QoS of the birth message.")
    birthRetain: Any = Field(default=False, description='Retain the birth message (true or "true").')
    birthMsg: dict[str, Any] = Field(
        default_factory=dict, description="MQTT 5 properties; with MQTT 3.1.1 Node-RED ignores them too."
    )
    closeTopic: str = Field(default="", description="Published just before a clean disconnect (deploy, shutdown).")
    closePayload: Any = Field(default="", description="Payload of the close message.")
    closeQos: int = Field(default=0, ge=0, le=2, description="QoS of the close message.")
    closeRetain: Any = Field(default=False, description="Retain the close message.")
    closeMsg: dict[str, Any] = Field(default_factory=dict, description="MQTT 5 properties (ignored with 3.1.1).")
    willTopic: str = Field(
        default="", description="Last will: the broker publishes it when the connection is lost uncleanly."
    )
    willPayload: Any = Field(default="", description="Payload of the will message.")
    willQos: int = Field(default=0, ge=0, le=2, description="QoS of the will message.")
    willRetain: Any = Field(default=False, description="Retain the will message.")
    willMsg: dict[str, Any] = Field(default_factory=dict, description="MQTT 5 properties (ignored with 3.1.1).")
    autoConnect: Literal[True] = Field(
        default=True, description="Connect at deploy. Node-RED's connect-on-demand (false) is not supported."
    )
    autoUnsubscribe: bool = Field(
        default=True, description="Unsubscribe when a node stops using a topic (always done)."
    )
    sessionExpiry: Any = Field(default="", description="MQTT 5 session expiry; without effect on MQTT 3.1.1.")
    userProps: Any = Field(default="", description="MQTT 5 user properties; without effect on MQTT 3.1.1.")

    _lwt_qos = field_validator("birthQos", "closeQos", "willQos", mode="before")(lambda v: 0 if v in ("", None) else v)
    _lwt_msg = field_validator("birthMsg", "closeMsg", "willMsg", mode="before")(lambda v: v or {})

    @field_validator("birthTopic", "closeTopic", "willTopic", mode="before")
    @classmethod
    def _lwt_topic(cls, value: Any) -> str:
        text = "" if value is None else str(value)
        problem = topic_problem(text) if text else None
        if problem:
            raise ValueError(problem)
        return text

    def announcement(self, kind: str) -> Will | None:
        """The birth, close or will message (Node-RED's createLWT), or None without a topic."""
        topic = getattr(self, f"{kind}Topic")
        if not topic:
            return None
        payload = getattr(self, f"{kind}Payload")
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload, separators=(",", ":"))
        data = str(payload or "").encode() if not isinstance(payload, bytes) else payload
        retain = getattr(self, f"{kind}Retain")
        return Will(topic, data, getattr(self, f"{kind}Qos"), retain is True or retain == "true")

    @field_validator("port", "keepalive", "protocolVersion", mode="before")
    @classmethod
    def _blank_number(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("keepalive", mode="after")
    @classmethod
    def _keepalive(cls, value: int | None) -> int:
        return 60 if value is None else value

    @field_validator("protocolVersion", mode="after")
    @classmethod
    def _protocol(cls, value: int | None) -> int:
        if value in (None, 4):
            return 4
        name = {3: "MQTT 3.1", 5: "MQTT 5"}.get(value, f"version {value}")  # type: ignore[arg-type]
        raise ValueError(f"{name} is not supported: set protocolVersion to 4 (MQTT 3.1.1)")

    @field_validator("clientid")
    @classmethod
    def _clientid(cls, value: str) -> str:
        if value:
            check_client_id(value)
        return value

    @model_validator(mode="after")
    def _settings_valid(self) -> MqttBrokerConfig:
        self.settings()
        return self

    def endpoint(self) -> tuple[str, int, bool]:
        """Host, port and whether TLS is on, from ``broker``/``port``/``usetls``."""
        host, port, tls = self.broker.strip() or "localhost", self.port, self.usetls
        if "://" in host:
            url = urlsplit(host)
            if url.scheme not in _PLAIN_SCHEMES:
                raise ValueError(f"broker: scheme {url.scheme!r} is not supported (use mqtt:// or mqtts://)")
            tls = tls or _PLAIN_SCHEMES[url.scheme]
            host, port = url.hostname or "localhost", url.port or port
        return host, port or (8883 if tls else 1883), tls

    def settings(self) -> MqttSettings:
        """The link settings; a ValueError names the offending property."""
        host, port, _ = self.endpoint()
        creds = self.credentials or {}
        user = str(creds.get("user") or self.user) or None
        password = str(creds.get("password") or self.password) or None
        try:
            return MqttSettings(
                host=host,
                port=port,
                client_id=self.clientid or f"nodered{os.urandom(8).hex()}",
                username=user,
                password=password if user else None,
                keepalive=self.keepalive,
                clean_session=self.cleansession,
                qos=0,
            )
        except ValidationError as exc:
            names = {"host": "broker", "client_id": "clientid", "clean_session": "cleansession"}
            err = exc.errors()[0]
            field = names.get(str(err["loc"][0]), str(err["loc"][0]))
            raise ValueError(f"{field}: {err['msg']}") from None


class MqttBrokerNode(Node[MqttBrokerConfig]):
    """Owns an :class:`MqttLink`; mqtt in/out nodes naming it in ``broker`` share it.

    Device presence as Node-RED does it: the birth message is published on every connect,
    the close message just before a clean disconnect (redeploy, shutdown), and the broker
    publishes the will message when the connection is lost. Retained "online" / "offline"
    on one topic tells a dashboard which devices are up.
    """

    Config = MqttBrokerConfig
    outputs = 0
    accepts_input = False
    link: MqttLink | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The link exists before any node starts: mqtt in/out may start first (they take no
        # input either) and subscribe to it; it connects in on_start.
        super().__init__(*args, **kwargs)
        self._link_error: LinkError | None = None
        _, _, tls = self.config.endpoint()
        self.birth = self.config.announcement("birth")
        self.farewell = self.config.announcement("close")
        try:
            will = self.config.announcement("will")
            self.link = MqttLink(self.config.settings(), name=self.id, force_tls=tls, will=will)
        except LinkError as exc:
            self._link_error = exc

    async def on_start(self) -> None:
        if self.link is None:
            raise self._link_error or LinkError("no connection")
        if self.birth is not None:
            self.link.add_state_listener(self._announce_birth)
        await self.link.start(wait=False)

    def _announce_birth(self, connected: bool, reason: str) -> None:
        if connected and self.link is not None and self.birth is not None:
            birth = self.birth
            future = self.link.publish(birth.topic, birth.payload, birth.qos, birth.retain)
            future.add_done_callback(self._announced)

    def _announced(self, future: asyncio.Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None:
            self.log.warning("birth message not published: %s", future.exception())

    async def on_close(self) -> None:
        if self.link is None:
            return
        self.link.remove_state_listener(self._announce_birth)
        if self.farewell is not None and self.link.connected:
            farewell = self.farewell
            with contextlib.suppress(LinkError, TimeoutError):
                await asyncio.wait_for(
                    self.link.publish(farewell.topic, farewell.payload, farewell.qos, farewell.retain), 2.0
                )
        await self.link.close()


class MqttClientNode(Node[ConfigT]):
    """Base of mqtt in and mqtt out: finds the link and mirrors its state in the node status."""

    link: Link | None = None

    def attach(self, broker_id: str) -> Link:
        """Use the broker node ``broker_id``'s link, or the device's own connection when empty."""
        self.link = find_link(self, broker_id)
        self.link.add_state_listener(self._link_state)
        self._link_state(self.link.connected, "")
        return self.link

    def _link_state(self, connected: bool, reason: str) -> None:
        if connected:
            self.status("green", "dot", "connected")
        else:
            self.status("red", "ring", "disconnected")

    async def on_close(self) -> None:
        if self.link is not None:
            self.link.remove_state_listener(self._link_state)


def find_link(node: Node[Any], broker_id: str) -> Link:
    """The link of broker node ``broker_id``, or the device's own link when empty."""
    if broker_id:
        broker = node.runtime.nodes.get(broker_id)
        link = broker.link if isinstance(broker, MqttBrokerNode) else None
        if link is None:
            raise NodeError(f"broker: mqtt-broker node {broker_id!r} has no connection (did it fail to start?)")
        return link
    device_link = node.runtime.services.link
    if device_link is None:
        raise NodeError("broker: not set, and there is no device MQTT connection to use")
    return device_link
