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
    token = body["client_token"]
    got: dict[str, Any] = {}
    refused: list[str] = []
    ready, answered = threading.Event(), threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.client_id, clean_session=True)
    if settings.username is not None:
        client.username_pw_set(settings.username, settings.password)
    context = tls_context(settings)
    if context is not None:
        client.tls_set_context(context)
        client.tls_insecure_set(settings.tls_insecure)

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            payload = json.loads(message.payload)
        except ValueError:
            return
        if isinstance(payload, dict) and payload.get("client_token") == token:
            got.update(payload)
            answered.set()

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            refused.append(str(reason))
            ready.set()
        else:
            client.subscribe(topic + RESPONSE_SUFFIX, 1)

    client.on_message = on_message
    client.on_subscribe = lambda *_: ready.set()
    client.on_connect = on_connect
    where = f"{settings.host}:{settings.port}"
    try:
        client.connect(settings.host, settings.port, keepalive=max(10, int(timeout) + 5))
    except (OSError, ValueError) as exc:
        raise NoAnswer(f"cannot reach the broker {where}: {exc}") from None
    client.loop_start()
    try:
        if not ready.wait(timeout) or refused:
            raise NoAnswer(
                f"the broker {where} "
                + (f"refused the connection: {refused[0]}" if refused else "did not let us subscribe")
            )
        client.publish(topic, json.dumps(body), qos=1)
        if not answered.wait(timeout):
            raise NoAnswer(
                f"nothing on {topic}{RESPONSE_SUFFIX} within {timeout:g}s: is the device running with --simulate?"
            )
        return dict(got)
    finally:
        client.disconnect()
        client.loop_stop()
