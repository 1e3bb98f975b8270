"""Plain words for why a connection failed, was refused or was lost (for one log line each)."""

from __future__ import annotations

import socket
import ssl
from typing import Any

#: CONNACK refusals of MQTT 3.1.1, by the reason code paho reports them as.
_REFUSALS = {
    132: "unacceptable protocol version",
    133: "client identifier rejected",
    134: "not authorised (bad user name or password)",
    135: "not authorised",
    136: "server unavailable",
}

_LOST = {
    "Unspecified error": "closed by the broker or the network",
    "Keep alive timeout": "no answer within the keepalive time",
    "Protocol error": "protocol error",
}


def refusal(reason: Any) -> str:
    """Why the broker refused a CONNECT."""
    return _REFUSALS.get(int(reason.value), str(reason).lower())


def lost_reason(reason: Any) -> str:
    """Why an established connection ended."""
    name = reason.getName() if hasattr(reason, "getName") else str(reason)
    return _LOST.get(name, name.lower())


def connect_error(exc: BaseException, host: str) -> str:
    """Why a TCP connect or TLS handshake failed."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed ({exc.verify_message})"
    if isinstance(exc, ssl.CertificateError):
        return f"TLS certificate does not match {host} ({exc})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({exc.reason or exc})"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve {host} ({exc.strerror})"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
