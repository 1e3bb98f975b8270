"""Device configuration: a TOML or JSON file (``--config``) overridden by command-line flags.

Checked completely before anything opens a socket or a port; every error names
the field. The runtime's own sections are ``[mqtt]`` and ``[flows]``; every other
top-level section belongs to an installed node package, which declares its model
(:mod:`flowengine.plugins`), so a typo in a section name is an error, not a
silently ignored table.
"""

from __future__ import annotations

import json
import os
import socket
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from flowengine.errors import FlowConfigError, Problem
from flowengine.plugins import config_sections

PASSWORD_ENV = "FLOWENGINE_PASSWORD"
MAX_CLIENT_ID_BYTES = 128
#: Longest topic prefix: the whole topic must fit MQTT's 65,535 bytes with room for the rest.
MAX_PREFIX_BYTES = 1024
#: Messages kept on disk while offline, and their bytes, by default.
DEFAULT_OFFLINE_MESSAGES = 100_000
DEFAULT_OFFLINE_BYTES = 64 * 1024 * 1024

SectionT = TypeVar("SectionT", bound=BaseModel)


class Section(BaseModel):
    """Base of config sections: unknown keys are errors (typos must not pass silently)."""

    model_config = ConfigDict(extra="forbid")


class MqttSettings(Section):
    """The device's own MQTT link, and what waits for it while the broker is out of reach."""

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
    #: Durable publishes (see the link) wait on disk instead of in memory while offline.
    offline_store: bool = False
    offline_max_messages: int = Field(default=DEFAULT_OFFLINE_MESSAGES, ge=1)
    offline_max_bytes: int = Field(default=DEFAULT_OFFLINE_BYTES, ge=1024)
    #: Stored messages sent per second after reconnect; the rest of the link's capacity stays for live traffic.
    offline_replay_rate: float = Field(default=50.0, gt=0, le=10_000)

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
        _check_broker_text(value, "the topic prefix")
        size = len(value.encode("utf-8"))
        if size > MAX_PREFIX_BYTES:
            raise ValueError(f"the topic prefix must be at most {MAX_PREFIX_BYTES} bytes of UTF-8 (got {size})")
        return value

    @property
    def tls(self) -> bool:
        return self.tls_ca is not None or self.tls_cert is not None


class FlowSettings(Section):
    """What flows may read of the process environment (``${NAME}``, ``env`` values, ``env.get``)."""

    env: list[str] = Field(
        default_factory=list,
        description="names of process environment variables flows may read (shell-style patterns allowed)",
    )


class DeviceConfig(BaseModel):
    """Everything ``flowengine run`` needs besides the flow files.

    Sections of node packages are extra fields, each validated by the model its
    package declares; :meth:`section` returns it typed (defaults when absent).
    """

    model_config = ConfigDict(extra="allow")

    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    flows: FlowSettings = Field(default_factory=FlowSettings)
    simulate: bool = False
    state_dir: Path = Path("state")

    @model_validator(mode="after")
    def _package_sections(self) -> DeviceConfig:
        extra = self.model_extra if self.model_extra is not None else {}
        known = config_sections()
        for name, raw in extra.items():
            model = known.get(name)
            if model is None:
                raise ValueError(f"unknown section {name!r} ({_known_sections()})")
            extra[name] = raw if isinstance(raw, model) else model.model_validate(raw)
        return self

    def section(self, name: str, model: type[SectionT]) -> SectionT:
        """The package section ``name`` (its defaults when the file has none)."""
        extra = self.model_extra if self.model_extra is not None else {}
        value = extra.get(name)
        if value is None:
            value = extra[name] = model()
        if not isinstance(value, model):
            raise TypeError(f"section {name!r} is a {type(value).__name__}, not {model.__name__}")
        return value


def check_client_id(value: str) -> None:
    """Client ids: 1..128 bytes of UTF-8, no MQTT wildcards, separators or text a broker refuses."""
    size = len(value.encode("utf-8", "surrogatepass"))
    if not 1 <= size <= MAX_CLIENT_ID_BYTES:
        raise ValueError(f"client id must be 1..{MAX_CLIENT_ID_BYTES} bytes of UTF-8 (got {size})")
    bad = sorted({c for c in value if c in "/+#"})
    if bad:
        raise ValueError(f"client id must not contain {' '.join(map(repr, bad))}")
    _check_broker_text(value, "client id")


def _check_broker_text(value: str, what: str) -> None:
    """MQTT strings must be well-formed UTF-8 without controls or non-characters (MQTT 3.1.1, 1.5.3)."""
    for char in value:
        code = ord(char)
        if code < 0x20 or 0x7F <= code <= 0x9F:
            raise ValueError(f"{what} must not contain the control character U+{code:04X}")
        if 0xD800 <= code <= 0xDFFF:
            raise ValueError(f"{what} is not valid Unicode (lone surrogate U+{code:04X})")
        if (code & 0xFFFE) == 0xFFFE or 0xFDD0 <= code <= 0xFDEF:
            raise ValueError(f"{what} must not contain the non-character U+{code:04X}")


def default_client_id() -> str:
    host = "".join(c for c in socket.gethostname() if c.isalnum() or c in "-_.")
    return f"flowengine-{host or 'device'}"[:MAX_CLIENT_ID_BYTES]


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a TOML (``.toml``) or JSON device config file into a plain dict."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise FlowConfigError([Problem(str(path), None, None, f"cannot read: {reason}")]) from exc
    try:
        data = tomllib.loads(text) if path.suffix != ".json" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise FlowConfigError([Problem(str(path), None, None, f"not valid {path.suffix[1:].upper()}: {exc}")]) from exc
    if not isinstance(data, dict):
        raise FlowConfigError([Problem(str(path), None, None, "must hold a table/object")])
    return data


def load_device_config(path: Path | None = None, overrides: Mapping[str, Any] | None = None) -> DeviceConfig:
    """File settings, then ``overrides`` (dotted keys such as ``mqtt.port``), then the password env var."""
    data = read_config_file(path) if path else {}
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(data, dotted, value)
    if os.environ.get(PASSWORD_ENV) and not (overrides or {}).get("mqtt.password"):
        _set_dotted(data, "mqtt.password", os.environ[PASSWORD_ENV])
    where = str(path) if path else "<command line>"
    problems = _section_problems(data, where)
    if problems:
        raise FlowConfigError(problems)
    try:
        return DeviceConfig.model_validate(data)
    except ValidationError as exc:
        raise FlowConfigError(_problems(exc, where)) from None


def _section_problems(data: dict[str, Any], where: str) -> list[Problem]:
    """Package sections checked one by one, so every error names ``section.field``."""
    problems: list[Problem] = []
    core = set(DeviceConfig.model_fields)
    known = config_sections()
    for name, raw in data.items():
        if name in core:
            continue
        model = known.get(name)
        if model is None:
            problems.append(Problem(where, None, name, f"unknown section ({_known_sections()})"))
            continue
        try:
            model.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_problems(exc, where, prefix=name))
    return problems


def _problems(exc: ValidationError, where: str, prefix: str = "") -> list[Problem]:
    return [
        Problem(where, None, ".".join(map(str, [*filter(None, [prefix]), *e["loc"]])), e["msg"]) for e in exc.errors()
    ]


def _known_sections() -> str:
    return "known: " + ", ".join(sorted({*DeviceConfig.model_fields, *config_sections()}))


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[leaf] = value
