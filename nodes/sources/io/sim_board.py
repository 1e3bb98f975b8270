"""The simulated IO board: gpiozero's MockFactory pins and a mock MCP3xxx on the SPI pins.

The io source opens the very same gpiozero devices on these pins as on real
hardware; the ADC answers gpiozero's bit-banged SPI frames bit by bit. The
ignition input (DI1 by default) follows the vehicle's ignition, AI1 and the
supply channel its battery voltage, and inputs set through the simulator
(``io.DI2``...) the levels the vehicle model holds for them. :meth:`unplug`
makes every pin fail with EIO, as a board whose GPIO chip went away.
"""

from __future__ import annotations

import errno
import warnings
from typing import Any

from gpiozero import Device
from gpiozero.exc import SPISoftwareFallback
from gpiozero.pins.data import SPI_HARDWARE_PINS
from gpiozero.pins.mock import MockFactory, MockPin, MockSPIDevice

from nodes.sources.io.settings import NO_CHANNEL, IoSettings
from nodes.sources.sim.vehicle import VehicleState


class FaultyPin(MockPin):
    """A mock pin whose reads and writes fail while its factory is unplugged."""

    def _check(self) -> None:
        if getattr(self._factory, "unplugged", False):
            raise OSError(errno.EIO, "GPIO chip not responding")

    def _get_state(self) -> Any:
        self._check()
        return super()._get_state()

    def _set_state(self, value: Any) -> None:
        self._check()
        super()._set_state(value)


class SimPinFactory(MockFactory):
    def __init__(self) -> None:
        super().__init__(pin_class=FaultyPin)
        self.unplugged = False


class MockMcp3xxx(MockSPIDevice):
    """Slave side of an MCP3004/3008/3204/3208 in single-ended mode.

    Frame: zeros, start bit, SGL/DIFF, three channel bits; then the chip clocks
    out one sample bit, a null bit and the result MSB first.
    """

    def __init__(self, bits: int, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bits = bits
        self.levels = [0.0] * 8  # fraction of the reference on each channel

    def on_start(self) -> None:
        super().on_start()
        self.start_at: int | None = None

    def on_bit(self) -> None:
        if self.start_at is None:
            if self.rx_buf[-1]:
                self.start_at = len(self.rx_buf) - 1
            return
        if len(self.rx_buf) == self.start_at + 5:
            channel = int("".join(str(int(b)) for b in self.rx_buf[-3:]), 2)
            code = round(max(0.0, min(1.0, self.levels[channel])) * (2**self.bits - 1))
            self.tx_buf = [0, 0]
            self.tx_word(code, self.bits)


def _prepare_gpiozero() -> None:
    """gpiozero's software SPI bus builds itself on the global default factory even when
    given another: give it a neutral mock one when there is none (simulation only), and
    silence the expected hardware-SPI fallback warning of the mock factory."""
    if Device.pin_factory is None:
        Device.pin_factory = MockFactory()
    warnings.filterwarnings("ignore", category=SPISoftwareFallback)


class SimIoHardware:
    """The mock pins and ADC for one pin map, driven by the vehicle model."""

    def __init__(self, settings: IoSettings) -> None:
        self.settings = settings
        _prepare_gpiozero()
        self.factory = SimPinFactory()
        pins = SPI_HARDWARE_PINS[settings.adc_port]
        bits = 12 if settings.adc.startswith("MCP32") else 10
        self.adc = MockMcp3xxx(
            bits,
            pins["clock"],
            pins["mosi"],
            pins["miso"],
            pins["select"][settings.adc_device],
            pin_factory=self.factory,
        )

    def unplug(self, gone: bool = True) -> None:
        self.factory.unplugged = gone

    def drive_input(self, n: int, high: bool) -> None:
        """Drive DI n (1-based) as the outside world would."""
        pin = self.factory.pin(self.settings.di[n - 1].pin)
        if pin.function == "input":
            (pin.drive_high if high else pin.drive_low)()

    def set_volts(self, n: int, volts: float) -> None:
        """Put ``volts`` on AI n (1-based) in front of the divider."""
        self.set_channel_volts(self.settings.ai_channels[n - 1], volts)

    def set_channel_volts(self, channel: int, volts: float) -> None:
        s = self.settings
        self.adc.levels[channel] = volts / s.divider_ratio / s.vref

    def update(self, state: VehicleState) -> None:
        """The harness: ignition on its sense input, the battery on AI1 and the supply channel."""
        s = self.settings
        if s.igt_input:
            self.drive_input(s.igt_input, state.ignition != s.igt_active_low)
        for n, level in state.inputs.items():
            if n <= len(s.di) and n != s.igt_input:
                self.drive_input(n, bool(level))
        if s.ai_channels:
            self.set_volts(1, state.battery_v)
        if s.power_channel != NO_CHANNEL:
            self.set_channel_volts(s.power_channel, state.battery_v)
