"""``mqtt out``: publishes ``msg.payload`` to the node's topic or ``msg.topic``."""

from __future__ import annotations

import asyncio
import json
from functools import partial
from typing import Annotated, Any

import orjson
from pydantic import Field, field_validator

from flowengine.errors import NodeError
from flowengine.message import Msg
from flowengine.mqtt import topic_problem
from flowengine.node import NodeConfig, NodeRef
from nodes.core.mqtt_broker import MqttClientNode


class MqttOutConfig(NodeConfig):
    topic: str = Field(default="", description="Topic; empty means msg.topic.")
    qos: int | None = Field(default=None, ge=0, le=2, description="QoS; empty means msg.qos, else the link's default.")
    retain: bool | None = Field(default=None, description="Retain flag; empty means msg.retain.")
    broker: Annotated[str, NodeRef("mqtt-broker")] = Field(
        default="", description="mqtt-broker node id; empty uses the device's own connection."
    )
    respTopic: str = Field(
        default="", description="MQTT 5 response topic; without effect on MQTT 3.1.1, the protocol here."
    )
    correl: str = Field(default="", description="MQTT 5 correlation data; without effect on MQTT 3.1.1.")
    contentType: str = Field(default="", description="MQTT 5 content type; without effect on MQTT 3.1.1.")
    expiry: str | int = Field(default="", description="MQTT 5 message expiry; without effect on MQTT 3.1.1.")
    userProps: Any = Field(default="", description="MQTT 5 user properties; without effect on MQTT 3.1.1.")

    @field_validator("qos", "retain", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        problem = topic_problem(value) if value else None
        if problem:
            raise ValueError(problem)
        return value


class MqttOutNode(MqttClientNode[MqttOutConfig]):
    Config = MqttOutConfig
    outputs = 0
    _checked_topic = ""  # the last topic found valid: a flow mostly publishes to the same one

    async def on_start(self) -> None:
        self.attach(self.config.broker)

    def on_input(self, msg: Msg) -> None:
        if "payload" not in msg or self.link is None:
            return
        topic = self.config.topic or msg.get("topic")
        if topic != self._checked_topic or not topic:
            problem = topic_problem(topic)
            if problem:
                raise NodeError(f"topic: {problem} (set the node's topic or msg.topic)")
            self._checked_topic = topic  # type: ignore[assignment]
        retain = self.config.retain if self.config.retain is not None else msg.get("retain") in (True, "true")
        future = self.link.publish(topic, encode_payload(msg["payload"]), self._qos(msg), retain)  # type: ignore[arg-type]
        future.add_done_callback(partial(self._published, msg))

    def _qos(self, msg: Msg) -> int | None:
        if self.config.qos is not None:
            return self.config.qos
        try:
            qos = int(msg.get("qos"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        return qos if qos in (0, 1, 2) else None

    def _published(self, msg: Msg, future: asyncio.Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None and not self.closed:
            self.error(future.exception(), msg)  # type: ignore[arg-type]


#: orjson hands dates and dataclasses to ``_json_default`` (text), as json does.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def encode_payload(payload: Any) -> bytes:
    """Bytes as they are; dicts and lists as JSON; booleans as true/false; the rest as text.

    JSON is compact UTF-8 (orjson; json where orjson declines: integers beyond 64 bits, keys that
    are not text). NaN and Infinity become null, as JavaScript's JSON.stringify makes them.
    """
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    if payload is None:
        return b""
    if isinstance(payload, bool):
        return b"true" if payload else b"false"
    if isinstance(payload, (dict, list)):
        try:
            return orjson.dumps(payload, default=_json_default, option=_ORJSON_OPTIONS)
        except orjson.JSONEncodeError:  # integers beyond 64 bits, non-text keys: json's way
            return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=_json_default).encode()
    return str(payload).encode("utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return {"type": "Buffer", "data": list(value)}
    return str(value)
