"""``sim control``: integrators drive the simulated vehicle over MQTT to make things happen on demand.

Under ``--simulate`` it subscribes ``sim/{client_id}/control`` (after the device's topic
prefix, outside the FlexAPI topics) and answers each body on ``.../control/resp``:
``{"result": {<settings as applied>}}`` or ``{"error": "invalid_parameter", "error_desc":
"<field>: ..."}``, with the request's ``client_token`` when it has one. A body is a JSON
object of settings (see :mod:`.commands`); a bad one changes nothing. The settings go to
the runtime's shared :class:`~.vehicle.Vehicle`, which moves every value physically, so
all simulated sources stay coherent. Without ``--simulate`` the node subscribes nothing.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from flowengine.message import Msg, make_msg
from flowengine.mqtt.subscriptions import Subscription
from flowengine.node import Node, NodeConfig
from nodes.sources.settings import harness_wiring

if TYPE_CHECKING:  # the simulator is imported only when the device is simulated
    from nodes.sources.sim.commands import Wiring
    from nodes.sources.sim.vehicle import Vehicle

RESPONSE_SUFFIX = "/resp"
MAX_BODY_BYTES = 64 * 1024


def control_topic(client_id: str, prefix: str = "") -> str:
    """``sim/{client_id}/control``, after the topic prefix when the device has one."""
    prefix = prefix.strip("/")
    return f"{prefix}/sim/{client_id}/control" if prefix else f"sim/{client_id}/control"


def error(field: str, reason: str) -> dict[str, Any]:
    return {"error": "invalid_parameter", "error_desc": f"{field}: {reason}"}


class SimControlNode(Node[NodeConfig]):
    """Takes simulator settings on ``sim/{client_id}/control`` and answers on ``.../resp``; inert unless simulated.

    Input: ``msg.payload``, a settings object (or its JSON text), as on the topic.
    Output: the answer, ``{"topic": ".../control/resp", "payload": {"result": ...} | {"error": ...}}``.
    """

    Config = NodeConfig
    outputs = 1

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._sub: Subscription | None = None
        self.vehicle: Vehicle | None = None
        self.wiring: Wiring | None = None
        self.topic = ""

    async def on_start(self) -> None:
        device = self.runtime.services.device
        self.topic = control_topic(device.mqtt.client_id, device.mqtt.topic_prefix)
        if not device.simulate:
            self.status("grey", "ring", "inert: the device is not simulated")
            return
        from nodes.sources.sim.vehicle import shared_vehicle

        self.vehicle = shared_vehicle(self.runtime)
        self.wiring = harness_wiring(device, track=self.vehicle.drives_itself)
        link = self.runtime.services.link
        if link is None:
            self.status("yellow", "ring", "no MQTT link: flow input only")
            return
        self._sub = link.subscribe(self.topic, device.mqtt.qos, self._received)
        self.status("green", "dot", self.topic)

    def _received(self, topic: str, payload: bytes) -> None:
        self.receive(make_msg(payload, topic=topic, _answer_on_link=True))

    def on_input(self, msg: Msg) -> None:
        answer = self.answer(msg.get("payload"))
        reply = make_msg(answer, topic=self.topic + RESPONSE_SUFFIX)
        if msg.get("_answer_on_link"):
            self._publish(reply)
        self.send(reply)

    def answer(self, payload: Any) -> dict[str, Any]:
        """The response to one body: every setting applied, or none and the first bad field named."""
        body, problem = _body(payload)
        if body is None:
            return problem
        token = body.pop("client_token", None)
        if token is not None and not isinstance(token, str):
            return error("client_token", "must be a string")
        result = self._apply(body)
        return {"client_token": token, **result} if token is not None else result

    def _apply(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.vehicle is None or self.wiring is None:
            return {"error": "device_error", "error_desc": "sim: the device is not simulated (run with --simulate)"}
        from nodes.sources.sim.commands import CommandError, applied, parse_commands

        try:
            commands = parse_commands(body, self.wiring)
        except CommandError as exc:
            self.log.info("refused %s", exc)
            return error(exc.field, exc.reason)
        at = self.vehicle.apply(commands)
        settings = applied(commands)
        self.log.info("at %.1f s: %s", at, ", ".join(f"{k}={v}" for k, v in settings.items()))
        self.status("green", "dot", ", ".join(f"{k}={v}" for k, v in settings.items())[:60])
        return {"result": settings}

    def _publish(self, reply: Msg) -> None:
        link = self.runtime.services.link
        if link is None:
            return
        data = json.dumps(reply["payload"], separators=(",", ":"))
        result = link.publish(reply["topic"], data, self.runtime.services.device.mqtt.qos)
        if result is not None:
            asyncio.ensure_future(result).add_done_callback(self._published)

    def _published(self, future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            self.log.warning("answer not published: %s", future.exception())

    async def on_close(self) -> None:
        link = self.runtime.services.link
        if self._sub is not None and link is not None:
            link.unsubscribe(self._sub)
        self._sub = None


def _body(payload: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The settings object of a payload (bytes, text or a dict), or the error answer."""
    if isinstance(payload, (bytes, bytearray, str)):
        if len(payload) > MAX_BODY_BYTES:
            return None, error("payload", f"larger than {MAX_BODY_BYTES} bytes")
        try:
            payload = json.loads(payload)
        except (UnicodeDecodeError, ValueError):
            return None, error("payload", "not valid JSON")
    if not isinstance(payload, dict):
        return None, error("payload", 'must be a JSON object of settings, e.g. {"vehicle.target_speed": 130}')
    return dict(payload), {}
