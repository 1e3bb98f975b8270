"""The TLS context of a link, built (and its files checked) before any socket opens."""

from __future__ import annotations

import ssl
from pathlib import Path

from flowengine.config import MqttSettings
from flowengine.errors import LinkError


def tls_context(settings: MqttSettings, force: bool = False) -> ssl.SSLContext | None:
    """A client context for ``settings`` (None without TLS); verification on unless ``tls_insecure``.

    ``force`` asks for TLS with the system's CA certificates when no CA file is set.
    """
    if not (settings.tls or force):
        return None
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=_path(settings.tls_ca))
    except (OSError, ssl.SSLError) as exc:
        raise LinkError(f"mqtt.tls_ca: cannot load CA certificates from {settings.tls_ca}: {_why(exc)}") from None
    if settings.tls_cert is not None or settings.tls_key is not None:
        if settings.tls_cert is None:
            raise LinkError("mqtt.tls_cert: a client key needs a client certificate")
        try:
            ctx.load_cert_chain(str(settings.tls_cert), _path(settings.tls_key))
        except (OSError, ssl.SSLError) as exc:
            raise LinkError(f"mqtt.tls_cert/tls_key: cannot load the client certificate: {_why(exc)}") from None
    if settings.tls_insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _path(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
