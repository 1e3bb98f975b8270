"""Device config: TOML or JSON file, flags override it, errors name the field."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from flowengine.cli import build_parser, device_config_from
from flowengine.config import PASSWORD_ENV, load_device_config
from flowengine.errors import FlowConfigError
from nodes.flexapi.device_settings import flexapi_settings
from nodes.sources.settings import SourcesSection, source_settings


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["run", *argv])


def test_toml_file_then_flags(tmp_path: Path) -> None:
    conf = tmp_path / "device.toml"
    conf.write_text(
        '[mqtt]\nhost = "broker.example"\nport = 8883\nclient_id = "VG7102021092401"\nqos = 0\n'
        '[flexapi]\ninclude_invalid = true\n[sources.gnss]\nport = "/dev/ttyUSB3"\n'
    )
    config = device_config_from(parse("--config", str(conf), "--broker", "10.0.0.2:1884", "--qos", "1"))
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.qos) == ("10.0.0.2", 1884, 1)
    assert config.mqtt.client_id == "VG7102021092401"
    assert flexapi_settings(config).include_invalid is True
    assert source_settings(config, "gnss") == {"port": "/dev/ttyUSB3"}
    assert config.mqtt.keepalive == 60 and config.mqtt.clean_session is False


def test_json_file(tmp_path: Path) -> None:
    conf = tmp_path / "device.json"
    conf.write_text('{"mqtt": {"client_id": "dev1", "topic_prefix": "/fleet/"}, "simulate": true}')
    config = load_device_config(conf)
    assert config.mqtt.topic_prefix == "fleet"
    assert config.simulate is True


def test_errors_name_file_and_field(tmp_path: Path) -> None:
    conf = tmp_path / "device.toml"
    conf.write_text('[mqtt]\nport = "many"\nqos = 2\nunknown = 1\n')
    with pytest.raises(FlowConfigError) as info:
        load_device_config(conf)
    text = str(info.value)
    assert f"{conf}: mqtt.port:" in text
    assert f"{conf}: mqtt.qos:" in text
    assert f"{conf}: mqtt.unknown:" in text


def test_unparsable_file(tmp_path: Path) -> None:
    conf = tmp_path / "device.toml"
    conf.write_text("[mqtt\n")
    with pytest.raises(FlowConfigError, match="not valid TOML"):
        load_device_config(conf)


def test_password_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    config = load_device_config(None, {"mqtt.username": "dev"})
    assert config.mqtt.password == "s3cret"
    assert "s3cret" not in repr(config)


def test_broker_flag_forms() -> None:
    assert device_config_from(parse("--broker", "example.org")).mqtt.host == "example.org"
    with pytest.raises(FlowConfigError, match="not a number"):
        device_config_from(parse("--broker", "example.org:x"))


def test_the_user_guide_config_example_loads_with_defaults(tmp_path: Path) -> None:
    guide = (Path(__file__).resolve().parents[1] / "docs" / "user-guide.md").read_text()
    example = guide.split("```toml\n", 1)[1].split("```", 1)[0]
    conf = tmp_path / "device.toml"
    conf.write_text(example)
    config = load_device_config(conf)
    defaults = load_device_config(None, {"mqtt.client_id": "VG7102021092401"})
    assert flexapi_settings(config) == flexapi_settings(defaults)
    assert config.mqtt == defaults.mqtt
    assert config.flows == defaults.flows
    sources = config.section("sources", SourcesSection).root
    assert set(sources) == {"gnss", "obd", "io", "motion", "modem1", "sysinfo", "1-wire", "vehicle"}


@pytest.mark.parametrize(
    ("client_id", "problem"),
    [
        ("DEV\x7f", "control character U+007F"),
        ("DEV\u0085", "control character U+0085"),
        ("DEV\uffff", "non-character U+FFFF"),
        ("DEV\ufdd0", "non-character U+FDD0"),
        ("DEV\ud800", "lone surrogate"),
        ("a/b", "'/'"),
        ("x" * 129, "1..128 bytes"),
    ],
)
def test_client_ids_a_broker_would_refuse_are_refused_at_start(client_id: str, problem: str) -> None:
    with pytest.raises(FlowConfigError) as info:
        load_device_config(None, {"mqtt.client_id": client_id})
    assert "mqtt.client_id" in str(info.value) and problem in str(info.value)


@pytest.mark.parametrize(
    ("prefix", "problem"), [("fleet\x00a", "control character U+0000"), ("p" * 70_000, "at most 1024 bytes")]
)
def test_topic_prefixes_a_broker_would_refuse_are_refused_at_start(prefix: str, problem: str) -> None:
    with pytest.raises(FlowConfigError) as info:
        load_device_config(None, {"mqtt.topic_prefix": prefix})
    assert "mqtt.topic_prefix" in str(info.value) and problem in str(info.value)


def test_a_mistyped_section_is_an_error_naming_the_known_ones(tmp_path: Path) -> None:
    conf = tmp_path / "device.toml"
    conf.write_text("[flexpai]\ninclude_invalid = true\n")
    with pytest.raises(FlowConfigError, match=r"flexpai: unknown section \(known: .*flexapi"):
        load_device_config(conf)


def test_offline_settings_moved_to_mqtt_say_so(tmp_path: Path) -> None:
    conf = tmp_path / "device.toml"
    conf.write_text("[flexapi]\noffline_store = true\n")
    with pytest.raises(FlowConfigError, match=r"offline_store: moved to the \[mqtt\] section"):
        load_device_config(conf)
