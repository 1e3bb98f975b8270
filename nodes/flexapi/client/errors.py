"""What a FlexAPI request can end in besides a result: one exception class per error code, and no answer.

An error response raises the class of its ``error`` code (:func:`error_for`);
``code`` is the code as sent and ``desc`` the device's ``error_desc``. Codes of
later revisions (1.0.9) have classes too, so a platform can catch them by name
whichever revision the device runs; a code no class knows raises the base
class with that ``code``.
"""

from __future__ import annotations

from typing import Any

from flowengine.errors import FlowError


class FlexApiError(FlowError):
    """The device answered a request with an error (base of every error-code class)."""

    code: str = ""

    def __init__(self, desc: str = "", *, code: str | None = None, topic: str = "", response: Any = None) -> None:
        self.code = code or type(self).code
        self.desc = desc
        self.topic = topic
        self.response = response
        where = f" ({topic})" if topic else ""
        super().__init__(f"{self.code}: {desc}{where}" if desc else f"{self.code}{where}")


class RequestTimeout(FlowError, TimeoutError):
    """No answer to a request within the client's timeout."""

    def __init__(self, topic: str, timeout: float) -> None:
        self.topic = topic
        self.timeout = timeout
        super().__init__(f"no answer on {topic}/resp within {timeout:g} s")


class BadRequest(FlowError, ValueError):
    """A request the client will not send: its client id, topic, token or body cannot work."""


class AuthFailed(FlexApiError):
    code = "auth_failed"


class InvalidParameter(FlexApiError, ValueError):
    code = "invalid_parameter"


class NotFound(FlexApiError, LookupError):
    code = "not_found"


class DeviceBusy(FlexApiError):
    code = "device_busy"


class DeviceError(FlexApiError):
    code = "device_error"


class DataInvalid(FlexApiError):
    code = "data_invalid"


class InvalidToken(FlexApiError):
    code = "invalid_token"


class DataEmpty(FlexApiError, LookupError):
    code = "data_empty"


class OverGroupNum(FlexApiError, ValueError):
    code = "over_group_num"


class OverDataNum(FlexApiError, ValueError):
    code = "over_data_num"


class FindSameKey(FlexApiError, ValueError):
    code = "find_same_key"


class IntervalInvalid(FlexApiError, ValueError):
    code = "interval_invalid"


class NotSupport(FlexApiError):
    code = "not_support"


ERROR_CLASSES: dict[str, type[FlexApiError]] = {
    cls.code: cls
    for cls in (
        AuthFailed,
        InvalidParameter,
        NotFound,
        DeviceBusy,
        DeviceError,
        DataInvalid,
        InvalidToken,
        DataEmpty,
        OverGroupNum,
        OverDataNum,
        FindSameKey,
        IntervalInvalid,
        NotSupport,
    )
}


def error_for(response: dict[str, Any], topic: str = "") -> FlexApiError:
    """The exception an error response raises: the class of its code, or the base for an unknown code."""
    code = str(response.get("error"))
    desc = response.get("error_desc")
    desc = desc if isinstance(desc, str) else ""
    cls = ERROR_CLASSES.get(code, FlexApiError)
    return cls(desc, code=code, topic=topic, response=response)
