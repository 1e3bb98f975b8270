"""MqttLink with a password file and with TLS (a CA and server certificate made in the test)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from flowengine.config import MqttSettings
from flowengine.errors import LinkError
from flowengine.mqtt import MqttLink
from flowengine.mqtt.testing import LoopThread, MqttPeer
from flowengine.testing import BROKER_PASSWORD as PASSWORD
from flowengine.testing import Mosquitto, make_ca, wait_until

pytestmark = pytest.mark.broker


def test_wrong_password_keeps_retrying_and_says_why(auth_broker: Mosquitto, links, caplog) -> None:
    caplog.set_level(logging.DEBUG, "flowengine.mqtt")
    link = links(port=auth_broker.port, client_id="wrong-pw", username="device", password="not-the-" + PASSWORD)
    wait_until(lambda: caplog.text.count("not authorised") >= 3, timeout=10, what="three refusals")
    assert not link.connected
    assert "retrying in" in caplog.text
    assert PASSWORD not in caplog.text and "not-the-" not in caplog.text


def test_right_password_connects(auth_broker: Mosquitto, links, caplog) -> None:
    caplog.set_level(logging.DEBUG, "flowengine.mqtt")
    link = links(port=auth_broker.port, client_id="right-pw", username="device", password=PASSWORD)
    wait_until(lambda: link.connected, what="connected with the right password")
    assert PASSWORD not in caplog.text


def test_tls_with_the_right_ca(tls_broker, loop: LoopThread, links) -> None:
    _, tls_port, ca = tls_broker
    link = links(port=tls_port, client_id="tls-ok", tls_ca=ca)
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


def test_tls_with_a_wrong_ca_fails_verification(tls_broker, tmp_path: Path, links, caplog) -> None:
    _, tls_port, _ = tls_broker
    other_ca = make_ca(tmp_path, "other-ca")
    caplog.set_level(logging.WARNING, "flowengine.mqtt")
    link = links(port=tls_port, client_id="tls-wrong-ca", tls_ca=other_ca)
    wait_until(lambda: "certificate verification failed" in caplog.text, what="verification failure logged")
    assert not link.connected


def test_tls_insecure_skips_verification(tls_broker, tmp_path: Path, links) -> None:
    _, tls_port, _ = tls_broker
    other_ca = make_ca(tmp_path, "other-ca")
    link = links(port=tls_port, client_id="tls-insecure", tls_ca=other_ca, tls_insecure=True)
    wait_until(lambda: link.connected, what="insecure TLS connection")


def test_missing_ca_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LinkError, match="tls_ca"):
        MqttLink(MqttSettings(tls_ca=tmp_path / "nope.crt"))
