"""Platform-side test kit: a scripted fake device, clients on the module's broker, a CLI runner in a pty.

``FakeDevice`` answers requests with what a test tells it to (error codes the
agent never sends, topics another part of the agent answers), and records the
requests exactly as they arrived.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from flowengine.testing import Mosquitto

Answer = Callable[[dict[str, Any]], dict[str, Any] | None]
FLOWENGINE = Path(sys.executable).with_name("flowengine")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]")


class FakeDevice:
    """Answers requests under ``v1/{client_id}`` with ``answers[path](request)`` (None: no answer)."""

    def __init__(self, broker: Mosquitto, client_id: str, answers: dict[str, Answer]) -> None:
        self.root = f"v1/{client_id}"
        self.answers = answers
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"fake-{uuid.uuid4().hex[:8]}")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        self.client.subscribe(f"{self.root}/+/+", qos=1)
        assert subscribed.wait(5), "fake device subscription not acknowledged"

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        path = message.topic[len(self.root) + 1 :]
        if path.endswith("/resp"):
            return
        request = json.loads(message.payload)
        with self._lock:
            self.requests.append((path, request))
        answer = self.answers.get(path, lambda r: None)(request)
        if answer is not None:
            reply = {"client_token": request.get("client_token"), **answer}
            self.client.publish(f"{message.topic}/resp", json.dumps(reply), qos=1)

    def publish(self, path: str, payload: dict[str, Any]) -> None:
        self.client.publish(f"{self.root}/{path}", json.dumps(payload), qos=1).wait_for_publish(5)

    def received(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [request for got, request in self.requests if got == path]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def result(value: Any) -> Answer:
    return lambda request: {"result": value}


def error(code: str, desc: str) -> Answer:
    return lambda request: {"error": code, "error_desc": desc}


def responses(messages: list[tuple[str, bytes]], path: str) -> list[dict[str, Any]]:
    """The payloads a ``Platform`` collected on ``{root}/{path}``."""
    return [json.loads(payload) for topic, payload in messages if topic.endswith(f"/{path}")]


class PtyProcess:
    """The real ``flowengine`` executable on a pseudo-terminal of a given size; the screen as plain text."""

    def __init__(self, args: Sequence[str], rows: int = 50, columns: int = 140) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows)}
        self.proc = subprocess.Popen(
            [str(FLOWENGINE), *args], stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.master = master
        self.raw = b""

    def read(self, within: float = 0.2) -> None:
        """Take what the program wrote within ``within`` seconds."""
        readable, _, _ = select.select([self.master], [], [], within)
        if readable:
            with contextlib.suppress(OSError):  # the program ended and closed its side
                self.raw += os.read(self.master, 1 << 16)

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw.decode("utf-8", "replace"))

    def screen_shows(self, *words: str) -> bool:
        self.read()
        return all(word in self.text for word in words)

    def interrupt(self, timeout: float = 10) -> int:
        """Ctrl-C, as a user ends the view; the exit status."""
        self.proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.read(0.1)
        return self.proc.wait(1)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        os.close(self.master)
