"""``[sources.io]``: the pin map of the IO board, every entry with a default.

Defaults suit a Raspberry Pi style header: inputs on GPIO5/6/12/13/16/19, outputs
on GPIO20-23 with pull-up enables on GPIO24-27, an MCP3208 on SPI0 CE0 (GPIO
8-11) whose channels 0-5 see the analog inputs through a 11:1 divider (3.3 V
reference: 0..36 V) and channel 7 the supply voltage (``io.power_input``) through the
same divider. DI1 senses the ignition (``io.igt_status``). GPIO4 (w1-gpio), 2/3 (I2C)
and 14/15 (UART) stay free.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_DI, MAX_DO, MAX_AI = 6, 4, 6
FULL_SCALE_V = 36.0
NO_CHANNEL = -1


class DigitalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pin: str = Field(min_length=1, description="gpiozero pin name, e.g. GPIO5 or BOARD29")
    pullup: bool = Field(default=True, description="pull-up (True) or pull-down (False) resistor")


class DigitalOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pin: str = Field(min_length=1)
    pullup_pin: str | None = Field(default=None, description="GPIO that switches this output's pull-up")
    initial: Literal[0, 1] = 0
    initial_pullup: Literal[0, 1] = 0


def _inputs() -> list[DigitalIn]:
    return [DigitalIn(pin=f"GPIO{n}") for n in (5, 6, 12, 13, 16, 19)]


def _outputs() -> list[DigitalOut]:
    return [DigitalOut(pin=f"GPIO{n}", pullup_pin=f"GPIO{n + 4}") for n in (20, 21, 22, 23)]


class IoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pin_factory: str | None = Field(default=None, description="gpiozero pin factory name (default: gpiozero's choice)")
    di: list[DigitalIn] = Field(default_factory=_inputs, max_length=MAX_DI)
    do: list[DigitalOut] = Field(default_factory=_outputs, max_length=MAX_DO)
    adc: Literal["MCP3004", "MCP3008", "MCP3204", "MCP3208"] = "MCP3208"
    adc_port: int = Field(default=0, ge=0)
    adc_device: int = Field(default=0, ge=0)
    ai_channels: list[int] = Field(default=[0, 1, 2, 3, 4, 5], max_length=MAX_AI)
    vref: float = Field(default=3.3, gt=0, le=5.5, description="ADC reference voltage")
    divider_ratio: float = Field(default=11.0, ge=1, description="input volts per volt at the ADC pin")
    power_channel: int = Field(
        default=7,
        ge=NO_CHANNEL,
        le=7,
        description="ADC channel of the supply voltage (io.power_input), same divider; -1: not measured "
        "(the default on 4-channel chips)",
    )
    igt_input: int = Field(
        default=1, ge=0, le=MAX_DI, description="digital input sensing the ignition (io.igt_status); 0: none"
    )
    igt_active_low: bool = Field(default=False, description="the ignition input reads 0 with the ignition on")

    @model_validator(mode="after")
    def _channels_exist(self) -> IoSettings:
        count = self.adc_channels
        bad = [c for c in self.ai_channels if not 0 <= c < count]
        if bad:
            raise ValueError(f"ai_channels {bad} do not exist on a {self.adc} (channels 0..{count - 1})")
        if self.power_channel >= count:
            if "power_channel" in self.model_fields_set:
                raise ValueError(f"power_channel {self.power_channel} does not exist on a {self.adc}")
            self.power_channel = NO_CHANNEL
        return self

    @model_validator(mode="after")
    def _ignition_input_exists(self) -> IoSettings:
        if self.igt_input > len(self.di):
            if "igt_input" in self.model_fields_set:
                raise ValueError(f"igt_input {self.igt_input}: the pin map has {len(self.di)} digital input(s)")
            self.igt_input = 0
        return self

    @property
    def adc_channels(self) -> int:
        return 4 if self.adc.endswith("04") else 8
