"""``flowengine sim CLIENT_ID KEY=VALUE...``: drive a simulated device from the command line.

Publishes the settings on ``sim/{CLIENT_ID}/control`` with a fresh ``client_token``,
waits for the answer on ``.../resp`` and prints it. Exit status: 0 applied, 1 refused
(the answer's ``error``), 2 no answer within ``--timeout`` (no such simulated device,
broker out of reach). Values are JSON (``130``, ``null``, ``"P0301"``); anything that is
not JSON is taken as text (``obd.dtc=P0301``).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import uuid
from typing import Any

import paho.mqtt.client as mqtt

from flowengine.cli import add_broker_options, broker_overrides
from flowengine.config import MqttSettings, load_device_config
from flowengine.errors import FlowConfigError, LinkError
from flowengine.mqtt.tls import tls_context
from nodes.sources.sim.control_node import RESPONSE_SUFFIX, control_topic

NO_ANSWER = 2
EXAMPLES = """\
examples:
  flowengine sim dev-42 vehicle.target_speed=130
  flowengine sim dev-42 vehicle.brake=0.6
  flowengine sim dev-42 obd.dtc=P0301 io.DI2=0
  flowengine sim dev-42 vehicle.ignition=0 --broker broker.example:8883 --tls-ca ca.pem"""


def add_sim_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = commands.add_parser(
        "sim",
        help="drive a simulated device: send settings to sim/CLIENT_ID/control and print the answer",
        description="Send simulator settings to an agent running with --simulate; exit 0 applied, 1 refused, "
        "2 no answer. Keys: vehicle.target_speed (km/h, null: the route decides), vehicle.ignition (0/1), "
        "vehicle.brake (g), vehicle.stop (s), obd.dtc (code, or clear), io.DI<n> (0/1). "
        "--client-id names this command's own MQTT connection (default: a random id). See docs/sources/simulation.md.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sim.add_argument("device", metavar="CLIENT_ID", help="the simulated device's MQTT client id")
    sim.add_argument("settings", nargs="+", metavar="KEY=VALUE", help="settings, e.g. vehicle.target_speed=130")
    sim.add_argument("--timeout", type=float, default=5.0, metavar="S", help="seconds to wait for the answer")
    add_broker_options(sim)
    sim.set_defaults(handler=cmd_sim)


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """``["vehicle.target_speed=130", "obd.dtc=P0301"]`` -> ``{"vehicle.target_speed": 130, "obd.dtc": "P0301"}``."""
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise FlowConfigError(f"{pair!r}: settings are KEY=VALUE, e.g. vehicle.target_speed=130")
        try:
            settings[key.strip()] = json.loads(text)
        except ValueError:
            settings[key.strip()] = text
    return settings


def cmd_sim(args: argparse.Namespace) -> int:
    body = {"client_token": uuid.uuid4().hex, **parse_settings(args.settings)}
    overrides = broker_overrides(args)
    overrides["mqtt.client_id"] = args.client_id or f"flowengine-sim-{uuid.uuid4().hex[:8]}"
    settings = load_device_config(None, overrides).mqtt
    topic = control_topic(args.device, settings.topic_prefix)
    try:
        answer = exchange(settings, topic, body, args.timeout)
    except NoAnswer as exc:
        print(f"no answer: {exc}", file=sys.stderr)
        return NO_ANSWER
    answer.pop("client_token", None)
    print(json.dumps(answer))
    return 1 if "error" in answer else 0


class NoAnswer(LinkError):
    """The broker is out of reach or refused us, or no simulated device answered in time."""


def exchange(settings: MqttSettings, topic: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Publish ``body`` on ``topic`` and return the answer carrying its token; NoAnswer when none comes."""
    return ControlClient(settings, topic, body["client_token"]).ask(body, timeout)


class ControlClient:
    """One paho connection that subscribes ``<topic>/resp``, publishes a request and waits for its answer."""

    def __init__(self, settings: MqttSettings, topic: str, token: str) -> None:
        self.settings, self.topic, self.token = settings, topic, token
        self.answer: dict[str, Any] = {}
        self.refused: str | None = None
        self.ready, self.answered = threading.Event(), threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.client_id, clean_session=True)
        if settings.username is not None:
            self.client.username_pw_set(settings.username, settings.password)
        context = tls_context(settings)
        if context is not None:
            self.client.tls_set_context(context)
            self.client.tls_insecure_set(settings.tls_insecure)
        self.client.on_connect = self._connected
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.on_message = self._message

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def ask(self, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        try:
            self.client.connect(self.settings.host, self.settings.port, keepalive=max(10, int(timeout) + 5))
        except (OSError, ValueError) as exc:
            raise NoAnswer(f"cannot reach the broker {self.where}: {exc}") from None
        self.client.loop_start()
        try:
            if not self.ready.wait(timeout) or self.refused:
                raise NoAnswer(
                    f"the broker {self.where} "
                    + (f"refused us: {self.refused}" if self.refused else "did not let us subscribe")
                )
            self.client.publish(self.topic, json.dumps(body), qos=1)
            if not self.answered.wait(timeout):
                raise NoAnswer(
                    f"nothing on {self.topic}{RESPONSE_SUFFIX} within {timeout:g}s: is the device running with --simulate?"
                )
            return dict(self.answer)
        finally:
            self.client.disconnect()
            self.client.loop_stop()

    def _connected(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self.refused = str(reason)
            self.ready.set()
        else:
            client.subscribe(self.topic + RESPONSE_SUFFIX, 1)

    def _message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            payload = json.loads(message.payload)
        except ValueError:
            return
        if isinstance(payload, dict) and payload.get("client_token") == self.token:
            self.answer = payload
            self.answered.set()
