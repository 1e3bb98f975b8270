"""Whether the fast path may run on the installed paho, checked once at start-up.

:class:`~flowengine.mqtt.client.BufferedClient` overrides private parts of paho 2.2 to
win the relay's CPU per message. A paho release that renames or reshapes any of them
would break it silently, so before a link uses it, every private name it relies on is
looked up and every method it overrides is compared with the signature it was written
against. Anything unexpected (or ``FLOWENGINE_MQTT_FAST_PATH=off``) selects
:class:`~flowengine.mqtt.client.PublicClient`, which uses paho's public API only, and
says why once in the log.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger("flowengine.mqtt")

#: paho releases the fast path was written and tested against (major, minor).
TESTED_RELEASES = ((2, 2),)
#: Switch: ``off`` forces the public-API client (diagnostics, benchmarks of both paths).
ENV_SWITCH = "FLOWENGINE_MQTT_FAST_PATH"

#: Methods the fast path overrides or calls, with the parameters it relies on.
METHODS: dict[str, tuple[str, ...]] = {
    "_packet_read": ("self",),
    "_packet_handle": ("self",),
    "_packet_queue": ("self", "command", "packet", "mid", "qos", "info"),
    "_send_publish": ("self", "mid", "topic", "payload", "qos", "retain", "dup", "info", "properties"),
    "_sock_recv": ("self", "bufsize"),
    "_do_on_publish": ("self", "mid", "reason_code", "properties"),
    "_mid_generate": ("self",),
    "_raise_for_invalid_topic": ("topic",),
    "_easy_log": ("self", "level", "fmt", "args"),
    "_call_socket_register_write": ("self",),
}
#: Instance attributes the fast path reads or writes.
ATTRIBUTES = (
    "_sock", "_out_packet", "_in_packet", "_out_messages", "_out_message_mutex", "_in_callback_mutex",
    "_msgtime_mutex", "_last_bytes_received", "_thread", "_sockpairW", "_protocol", "_on_message", "_userdata",
    "_logger", "_on_log", "_manual_ack", "_max_queued_messages", "_max_inflight_messages", "_inflight_messages",
    "_on_socket_register_write",
)  # fmt: skip
#: Module-level names of ``paho.mqtt.client``.
MODULE_NAMES = ("_encode_payload", "time_func", "mqtt_ms_queued", "mqtt_ms_wait_for_puback", "mqtt_ms_publish")


@functools.cache
def fast_path_problem() -> str | None:
    """Why the fast path must not run here (None: it may). Logged once when it must not."""
    problem = _problem()
    if problem is not None:
        log.warning("MQTT fast path off (%s): using paho's public API, slower per message", problem)
    return problem


def _problem() -> str | None:
    if os.environ.get(ENV_SWITCH, "").lower() in ("0", "off", "no", "false"):
        return f"{ENV_SWITCH} says off"
    release = tuple(int(p) for p in paho.mqtt.__version__.split(".")[:2] if p.isdigit())
    if release not in TESTED_RELEASES:
        return f"paho-mqtt {paho.mqtt.__version__} is not a release it was tested with"
    for name, params in METHODS.items():
        found = getattr(mqtt.Client, name, None)
        if found is None:
            return f"paho's Client has no {name}"
        actual = tuple(inspect.signature(found).parameters)
        if actual[: len(params)] != params:
            return f"paho's Client.{name}{actual} is not {params}"
    for name in MODULE_NAMES:
        if not hasattr(mqtt, name):
            return f"paho.mqtt.client has no {name}"
    return _missing_attribute()


def _missing_attribute() -> str | None:
    probe = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="flowengine-guard", protocol=mqtt.MQTTv311)
    missing = [name for name in ATTRIBUTES if not hasattr(probe, name)]
    return f"paho's Client has no {', '.join(missing)}" if missing else None
