"""MqttLink with a password file and with TLS (a CA and server certificate made in the test)."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowengine.config import MqttSettings
from flowengine.errors import LinkError
from flowengine.mqtt import Backoff, MqttLink
from flowengine.mqtt.testing import LoopThread, MqttPeer
from flowengine.testing import Mosquitto, free_port, wait_until

pytestmark = pytest.mark.broker

PASSWORD = "s3cret-Pa55"


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    runner = LoopThread()
    yield runner
    runner.close()


@pytest.fixture
def start_link(loop: LoopThread) -> Iterator[Any]:
    links: list[MqttLink] = []

    def start(**settings: Any) -> MqttLink:
        link = MqttLink(MqttSettings(**settings), backoff=Backoff(0.05, 0.2))
        links.append(link)
        loop.call(link.start())
        return link

    yield start
    for link in links:
        loop.call(link.close())


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> Path:
    """A self-signed CA certificate and key: ``name``.crt / ``name``.key."""
    openssl(
        *("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
        *("-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={name}"),
        *("-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"),
        cwd=directory,
    )
    return directory / f"{name}.crt"


def make_server_cert(directory: Path, ca: str) -> None:
    """server.crt / server.key for 127.0.0.1 and localhost, signed by ``ca``."""
    openssl(
        *("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
        *("-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"),
        cwd=directory,
    )
    (directory / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl(
        *("x509", "-req", "-in", "server.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial"),
        *("-out", "server.crt", "-days", "2", "-extfile", "san.cnf"),
        cwd=directory,
    )


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mosquitto, int, Path]]:
    """A broker with a plain listener and a TLS listener; yields (broker, tls port, CA file)."""
    directory = tmp_path_factory.mktemp("tls")
    ca = make_ca(directory, "test-ca")
    make_server_cert(directory, "test-ca")
    tls_port = free_port()
    extra = [
        f"listener {tls_port} 127.0.0.1",
        f"cafile {ca}",
        f"certfile {directory / 'server.crt'}",
        f"keyfile {directory / 'server.key'}",
    ]
    with Mosquitto(directory, extra=extra) as broker:
        yield broker, tls_port, ca


@pytest.fixture(scope="module")
def auth_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    directory = tmp_path_factory.mktemp("auth")
    passwords = directory / "passwords"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "device", PASSWORD], check=True)
    with Mosquitto(directory, extra=[f"password_file {passwords}", "allow_anonymous false"]) as broker:
        yield broker


def test_wrong_password_keeps_retrying_and_says_why(auth_broker: Mosquitto, start_link, caplog) -> None:
    caplog.set_level(logging.DEBUG, "flowengine.mqtt")
    link = start_link(port=auth_broker.port, client_id="wrong-pw", username="device", password="not-the-" + PASSWORD)
    wait_until(lambda: caplog.text.count("not authorised") >= 3, timeout=10, what="three refusals")
    assert not link.connected
    assert "retrying in" in caplog.text
    assert PASSWORD not in caplog.text and "not-the-" not in caplog.text


def test_right_password_connects(auth_broker: Mosquitto, start_link, caplog) -> None:
    caplog.set_level(logging.DEBUG, "flowengine.mqtt")
    link = start_link(port=auth_broker.port, client_id="right-pw", username="device", password=PASSWORD)
    wait_until(lambda: link.connected, what="connected with the right password")
    assert PASSWORD not in caplog.text


def test_tls_with_the_right_ca(tls_broker, loop: LoopThread, start_link) -> None:
    _, tls_port, ca = tls_broker
    link = start_link(port=tls_port, client_id="tls-ok", tls_ca=ca)
    wait_until(lambda: link.connected, what="TLS connection")
    peer = MqttPeer(tls_port, ca_file=str(ca))
    try:
        peer.subscribe("secure/#")
        loop.call(_publish(link, "secure/hello", b"over tls"))
        assert peer.take(1)[0][:2] == ("secure/hello", b"over tls")
    finally:
        peer.close()


async def _publish(link: MqttLink, topic: str, payload: bytes) -> None:
    await link.publish(topic, payload, qos=1)


def test_tls_with_a_wrong_ca_fails_verification(tls_broker, tmp_path: Path, start_link, caplog) -> None:
    _, tls_port, _ = tls_broker
    other_ca = make_ca(tmp_path, "other-ca")
    caplog.set_level(logging.WARNING, "flowengine.mqtt")
    link = start_link(port=tls_port, client_id="tls-wrong-ca", tls_ca=other_ca)
    wait_until(lambda: "certificate verification failed" in caplog.text, what="verification failure logged")
    assert not link.connected


def test_tls_insecure_skips_verification(tls_broker, tmp_path: Path, start_link) -> None:
    _, tls_port, _ = tls_broker
    other_ca = make_ca(tmp_path, "other-ca")
    link = start_link(port=tls_port, client_id="tls-insecure", tls_ca=other_ca, tls_insecure=True)
    wait_until(lambda: link.connected, what="insecure TLS connection")


def test_missing_ca_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LinkError, match="tls_ca"):
        MqttLink(MqttSettings(tls_ca=tmp_path / "nope.crt"))
