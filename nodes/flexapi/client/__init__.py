"""The platform side of FlexAPI: clients that send requests to devices and read what they publish.

``FlexClient`` (blocking) and ``AsyncFlexClient`` (asyncio), their error classes
(one per FlexAPI error code), and the ``flowengine call`` / ``flowengine watch``
commands built on them. ``flowengine.platform`` re-exports the clients and errors
through its entry-point group (see ``pyproject.toml``).
"""

from nodes.flexapi.client.aio import AsyncFlexClient, Listening
from nodes.flexapi.client.errors import (
    ERROR_CLASSES,
    AuthFailed,
    BadRequest,
    DataEmpty,
    DataInvalid,
    DeviceBusy,
    DeviceError,
    FindSameKey,
    FlexApiError,
    IntervalInvalid,
    InvalidParameter,
    InvalidToken,
    NotFound,
    NotSupport,
    OverDataNum,
    OverGroupNum,
    RequestTimeout,
)
from nodes.flexapi.client.sync import FlexClient

__all__ = [
    "ERROR_CLASSES",
    "AsyncFlexClient",
    "AuthFailed",
    "BadRequest",
    "DataEmpty",
    "DataInvalid",
    "DeviceBusy",
    "DeviceError",
    "FindSameKey",
    "FlexApiError",
    "FlexClient",
    "IntervalInvalid",
    "InvalidParameter",
    "InvalidToken",
    "Listening",
    "NotFound",
    "NotSupport",
    "OverDataNum",
    "OverGroupNum",
    "RequestTimeout",
]
