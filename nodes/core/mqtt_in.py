"""``mqtt in``: subscribes to a topic filter and emits ``{topic, payload, qos, retain}`` per message."""

from __future__ import annotations

import base64
import json
import re
from typing import Annotated, Any, Literal

import orjson
from pydantic import Field, field_validator

from flowengine.errors import NodeError
from flowengine.logthrottle import LogThrottle
from flowengine.message import make_msg, new_msg_id
from flowengine.mqtt import Subscription, filter_problem
from flowengine.node import NodeConfig, NodeRef
from nodes.core.mqtt_broker import MqttClientNode

DataType = Literal["auto", "auto-detect", "utf8", "buffer", "json", "base64"]
#: 19 digits in a row may be an integer beyond 64 bits, which orjson reads as a float: json reads those.
_LONG_DIGITS = re.compile(rb"\d{19}")


class MqttInConfig(NodeConfig):
    topic: str = Field(description="Topic filter; '+' and '#' wildcards allowed.")
    qos: int = Field(default=2, ge=0, le=2, description="Subscription QoS (0, 1 or 2).")
    datatype: DataType = Field(
        default="utf8",
        description="Payload as: auto (string or bytes), auto-detect (JSON, string or bytes), utf8, buffer, json, base64.",
    )
    broker: Annotated[str, NodeRef("mqtt-broker")] = Field(
        default="", description="mqtt-broker node id; empty uses the device's own connection."
    )
    inputs: Literal[0] = Field(
        default=0, description="0: the topic is fixed. Node-RED's dynamic subscriptions (1) are not supported."
    )
    _inputs = field_validator("inputs", mode="before")(lambda v: 0 if v in ("", None, "0") else v)
    nl: bool = Field(default=False, description="MQTT 5 'no local'; without effect on MQTT 3.1.1, the protocol here.")
    rap: bool = Field(default=True, description="MQTT 5 'retain as published'; without effect on MQTT 3.1.1.")
    rh: int | str = Field(default=0, description="MQTT 5 retain handling; without effect on MQTT 3.1.1.")

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        problem = filter_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("qos", "datatype", mode="before")
    @classmethod
    def _blank_default(cls, value: Any, info: Any) -> Any:
        if value in ("", None):
            return 2 if info.field_name == "qos" else "utf8"
        return value


class MqttInNode(MqttClientNode[MqttInConfig]):
    Config = MqttInConfig
    accepts_input = False
    _sub: Subscription | None = None
    _throttle: LogThrottle | None = None

    async def on_start(self) -> None:
        link = self.attach(self.config.broker)
        self._sub = link.subscribe(self.config.topic, self.config.qos, self._arrived)

    def _arrived(self, topic: str, payload: bytes) -> None:
        qos, retain = getattr(payload, "qos", 0), getattr(payload, "retain", False)
        try:
            value = decode_payload(payload, self.config.datatype)
        except NodeError as exc:
            self._refused(exc, make_msg(bytes(payload), topic=topic, qos=qos, retain=retain))
            return
        self.send({"_msgid": new_msg_id(), "payload": value, "topic": topic, "qos": qos, "retain": retain})

    def _refused(self, error: NodeError, msg: dict[str, Any]) -> None:
        """A payload that cannot be decoded: to catch nodes each time, to the log at most once a minute."""
        if self._throttle is None:
            self._throttle = LogThrottle(self.log)
        self._throttle.error("decode", "%s", error)
        self.status("red", "ring", str(error)[:60])
        self.runtime.report_error(self, str(error), msg)

    async def on_close(self) -> None:
        if self.link is not None and self._sub is not None:
            self.link.unsubscribe(self._sub)
        await super().on_close()


def decode_payload(data: bytes, datatype: str) -> Any:
    """Node-RED's payload conversion for ``datatype``; raises NodeError when ``json`` cannot parse."""
    if datatype == "buffer":
        return bytes(data)
    if datatype == "base64":
        return base64.b64encode(data).decode("ascii")
    if datatype == "utf8":
        return data.decode("utf-8", errors="replace")
    if datatype in ("json", "auto-detect") and not _LONG_DIGITS.search(data):
        try:
            return orjson.loads(memoryview(data))  # valid JSON, the common case: ~5x faster than json
        except orjson.JSONDecodeError:
            pass  # not for orjson: json below decides (and words the error) exactly as before
    text = _utf8(data)
    if datatype == "json":
        if text is None:
            raise NodeError("payload is not UTF-8 text, so not JSON")
        try:
            return _parse_json(text)
        except ValueError as exc:
            raise NodeError(f"payload is not valid JSON: {exc}") from None
        except RecursionError:
            raise NodeError("payload is not valid JSON: nested too deeply") from None
    if text is None:
        return bytes(data)
    if datatype == "auto-detect":
        try:
            return _parse_json(text)
        except (ValueError, RecursionError):
            return text
    return text


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _parse_json(text: str) -> Any:
    """JSON as JavaScript's JSON.parse reads it (no NaN or Infinity)."""
    if text.startswith("\ufeff"):
        raise ValueError("Unexpected UTF-8 BOM (decode using utf-8-sig)")
    return _DECODER.decode(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)  # one decoder: json.loads(..., kw) builds one per call
