"""The paho fast path runs only where its private assumptions hold; elsewhere the public API serves."""

from __future__ import annotations

from collections.abc import Iterator

import paho.mqtt
import paho.mqtt.client as mqtt
import pytest

from flowengine.config import MqttSettings
from flowengine.mqtt import MqttLink, guard
from flowengine.mqtt.client import BufferedClient, PublicClient


@pytest.fixture(autouse=True)
def fresh_verdict() -> Iterator[None]:
    guard.fast_path_problem.cache_clear()
    yield
    guard.fast_path_problem.cache_clear()


def client_of(link: MqttLink) -> type:
    return type(link._client)


def test_the_installed_paho_passes_and_links_take_the_fast_path() -> None:
    assert guard.fast_path_problem() is None
    assert client_of(MqttLink(MqttSettings(client_id="g1"))) is BufferedClient


def test_the_switch_forces_the_public_api(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(guard.ENV_SWITCH, "off")
    assert client_of(MqttLink(MqttSettings(client_id="g2"))) is PublicClient
    assert "MQTT fast path off (FLOWENGINE_MQTT_FAST_PATH says off)" in caplog.text


def test_an_untested_paho_release_gets_the_public_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paho.mqtt, "__version__", "2.3.0")
    assert guard.fast_path_problem() == "paho-mqtt 2.3.0 is not a release it was tested with"
    assert client_of(MqttLink(MqttSettings(client_id="g3"))) is PublicClient


def test_a_reshaped_private_method_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    def _send_publish(self: object, mid: int, topic: bytes, payload: bytes = b"", qos: int = 0) -> None: ...

    monkeypatch.setattr(mqtt.Client, "_send_publish", _send_publish)
    assert "Client._send_publish" in (guard.fast_path_problem() or "")


def test_a_missing_private_attribute_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guard, "ATTRIBUTES", (*guard.ATTRIBUTES, "_gone_in_a_future_release"))
    assert guard.fast_path_problem() == "paho's Client has no _gone_in_a_future_release"
