"""The ``[flexapi]`` section of the device config: how the agent answers and reports."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from flowengine.config import DeviceConfig, Section

SECTION = "flexapi"
#: Keys that moved to ``[mqtt]`` with the offline store (a link feature, not an agent one).
MOVED_TO_MQTT = ("offline_store", "offline_max_messages", "offline_max_bytes", "offline_replay_rate")


class FlexApiSettings(Section):
    """Agent behaviour: the FlexAPI revision, Include Invalid Data of the reference, the request size limit."""

    revision: Literal["1.0.8", "1.0.9"] = Field(
        default="1.0.8", description="FlexAPI revision the platform speaks (error codes, ul_ts, parameters)"
    )
    include_invalid: bool = Field(default=False, description="send invalid values as null instead of leaving them out")
    request_max_bytes: int = Field(default=64 * 1024, ge=1024, description="largest request payload accepted")

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: Any) -> Any:
        if isinstance(data, dict):
            moved = [k for k in MOVED_TO_MQTT if k in data]
            if moved:
                raise ValueError(f"{', '.join(moved)}: moved to the [mqtt] section")
        return data


def flexapi_settings(device: DeviceConfig) -> FlexApiSettings:
    return device.section(SECTION, FlexApiSettings)
