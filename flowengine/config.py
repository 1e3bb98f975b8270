"""Device configuration: a TOML or JSON file (``--config``) overridden by command-line flags.

Checked completely before anything opens a socket or a port; every error names
the field. Hardware sections (``[sources.gnss]`` ...) are validated by the
source node that uses them.
"""

from __future__ import annotations

import json
import os
import socket
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from flowengine.errors import FlowConfigError, Problem

PASSWORD_ENV = "FLOWENGINE_PASSWORD"
MAX_CLIENT_ID_BYTES = 128


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MqttSettings(_Section):
    """The device's own MQTT link (the reference's Third-Party Platform page)."""

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    client_id: str = Field(default_factory=lambda: default_client_id())
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_insecure: bool = False
    keepalive: int = Field(default=60, ge=5, le=65535)
    clean_session: bool = False
    qos: int = Field(default=1, ge=0, le=1)
    topic_prefix: str = ""

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str) -> str:
        check_client_id(value)
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        value = value.strip("/")
        if any(c in value for c in "+#"):
            raise ValueError("the topic prefix must not contain '+' or '#'")
        return value

    @property
    def tls(self) -> bool:
        return self.tls_ca is not None or self.tls_cert is not None


class FlexApiSettings(_Section):
    """Agent behaviour: Include Invalid Data and Offline Data Store of the reference."""

    include_invalid: bool = False
    offline_store: bool = False
    offline_max_messages: int = Field(default=100_000, ge=1)
    offline_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    #: Stored messages sent per second after reconnect; the rest of the link's capacity stays for live traffic.
    offline_replay_rate: float = Field(default=50.0, gt=0, le=10_000)
    request_max_bytes: int = Field(default=64 * 1024, ge=1024)


class DeviceConfig(_Section):
    """Everything ``flowengine run`` needs besides the flow files."""

    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    flexapi: FlexApiSettings = Field(default_factory=FlexApiSettings)
    simulate: bool = False
    state_dir: Path = Path("state")
    sources: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def source(self, name: str) -> dict[str, Any]:
        """The hardware section for one source (``{}`` when absent: defaults apply)."""
        return dict(self.sources.get(name, {}))


def check_client_id(value: str) -> None:
    """FlexAPI client ids: 1..128 bytes of UTF-8, no MQTT wildcards or level separators."""
    size = len(value.encode("utf-8"))
    if not 1 <= size <= MAX_CLIENT_ID_BYTES:
        raise ValueError(f"client id must be 1..{MAX_CLIENT_ID_BYTES} bytes of UTF-8 (got {size})")
    bad = sorted({c for c in value if c in "/+#" or ord(c) < 32})
    if bad:
        raise ValueError(f"client id must not contain {' '.join(map(repr, bad))}")


def default_client_id() -> str:
    host = "".join(c for c in socket.gethostname() if c.isalnum() or c in "-_.")
    return f"flowengine-{host or 'device'}"[:MAX_CLIENT_ID_BYTES]


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a TOML (``.toml``) or JSON device config file into a plain dict."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FlowConfigError([Problem(str(path), None, None, f"cannot read: {exc.strerror}")]) from exc
    try:
        data = tomllib.loads(text) if path.suffix != ".json" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise FlowConfigError([Problem(str(path), None, None, f"not valid {path.suffix[1:].upper()}: {exc}")]) from exc
    if not isinstance(data, dict):
        raise FlowConfigError([Problem(str(path), None, None, "must hold a table/object")])
    return data


def load_device_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> DeviceConfig:
    """File settings, then ``overrides`` (dotted keys such as ``mqtt.port``), then the password env var."""
    data = read_config_file(path) if path else {}
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(data, dotted, value)
    if os.environ.get(PASSWORD_ENV) and not (overrides or {}).get("mqtt.password"):
        _set_dotted(data, "mqtt.password", os.environ[PASSWORD_ENV])
    try:
        return DeviceConfig.model_validate(data)
    except ValidationError as exc:
        where = str(path) if path else "<command line>"
        problems = [Problem(where, None, ".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()]
        raise FlowConfigError(problems) from None


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[leaf] = value
