"""The IO board through gpiozero: digital inputs, outputs with pull-up enables, an MCP3xxx ADC.

Blocking and not thread-safe in gpiozero, so every access holds :attr:`lock`;
the io source calls it from worker threads. Any gpiozero or OS failure surfaces
as :class:`~flowengine.errors.DeviceIOError`.
"""

from __future__ import annotations

import contextlib
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any

import gpiozero
from gpiozero import Device, DigitalInputDevice, DigitalOutputDevice

from flowengine.errors import DeviceIOError
from nodes.sources.io.settings import FULL_SCALE_V, MAX_AI, MAX_DI, MAX_DO, NO_CHANNEL, IoSettings

#: (output number 1..4, "value" or "pullup"; or input number 1..6, "input_pullup") -> 0/1
OutputKey = tuple[int, str]


def load_pin_factory(name: str | None) -> Any:
    """The named gpiozero pin factory, or gpiozero's own choice.

    On a host without GPIO gpiozero warns once per factory it tries, then gives up:
    those warnings become the reasons of one DeviceIOError instead of being printed raw.
    """
    if name is None:
        with warnings.catch_warnings(record=True) as tried:
            warnings.simplefilter("always")
            try:
                return Device._default_pin_factory()
            except Exception as exc:
                reasons = "; ".join(str(w.message) for w in tried) or str(exc)
                raise DeviceIOError(f"no GPIO on this machine ({reasons})") from exc
    found = [ep for ep in entry_points(group="gpiozero_pin_factories") if ep.name == name]
    if not found:
        raise DeviceIOError(f"no gpiozero pin factory named {name!r}")
    return found[0].load()()


def volts(fraction: float, settings: IoSettings) -> float:
    """ADC reading (0..1 of the reference) -> input volts, clamped to the 0..36 V range."""
    return round(min(FULL_SCALE_V, max(0.0, fraction * settings.vref * settings.divider_ratio)), 2)


@contextlib.contextmanager
def hardware(action: str) -> Iterator[None]:
    """Turn whatever gpiozero or the OS raises into DeviceIOError naming the action."""
    try:
        yield
    except DeviceIOError:
        raise
    except Exception as exc:
        raise DeviceIOError(f"{action} failed: {type(exc).__name__}: {exc}") from exc


class IoBoard:
    """Open devices for one pin map; :meth:`close` is idempotent and never raises."""

    def __init__(self, settings: IoSettings, factory: Any, outputs: dict[OutputKey, int]) -> None:
        self.settings = settings
        self.lock = threading.Lock()
        self._devices: list[Any] = []
        with self.lock, hardware("opening the IO board"):
            try:
                self._open(factory, outputs)
            except BaseException:
                self._close_all()
                raise

    def _open(self, factory: Any, outputs: dict[OutputKey, int]) -> None:
        s = self.settings
        self.inputs = [
            self._add(
                DigitalInputDevice, d.pin, pull_up=bool(outputs.get((n, "input_pullup"), d.pullup)), pin_factory=factory
            )
            for n, d in enumerate(s.di, 1)
        ]
        self.outputs = [
            self._add(DigitalOutputDevice, d.pin, initial_value=bool(outputs[(n, "value")]), pin_factory=factory)
            for n, d in enumerate(s.do, 1)
        ]
        self.pullups = [
            self._add(
                DigitalOutputDevice, d.pullup_pin, initial_value=bool(outputs[(n, "pullup")]), pin_factory=factory
            )
            if d.pullup_pin
            else None
            for n, d in enumerate(s.do, 1)
        ]
        adc = getattr(gpiozero, s.adc)
        self.adcs = [
            self._add(adc, channel=c, port=s.adc_port, device=s.adc_device, pin_factory=factory) for c in s.ai_channels
        ]
        self.supply = (
            self._add(adc, channel=s.power_channel, port=s.adc_port, device=s.adc_device, pin_factory=factory)
            if s.power_channel != NO_CHANNEL
            else None
        )

    def _add(self, cls: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        device = cls(*args, **kwargs)
        self._devices.append(device)
        return device

    def read(self) -> dict[str, Any]:
        """Every Appendix A ``io.*`` value (without ``io.ts``); absent channels are None."""
        with self.lock, hardware("reading the IO board"):
            values: dict[str, Any] = {}
            for n in range(1, MAX_DI + 1):
                pin = self.settings.di[n - 1] if n <= len(self.inputs) else None
                values[f"io.DI{n}"] = int(bool(self.inputs[n - 1].pin.state)) if pin else None
                values[f"io.DI{n}_pullup"] = int(self.inputs[n - 1].pin.pull == "up") if pin else None
            for n in range(1, MAX_DO + 1):
                values[f"io.DO{n}"] = int(self.outputs[n - 1].value) if n <= len(self.outputs) else None
                values[f"io.DO{n}_pullup"] = self._pullup_state(n)
            for n in range(1, MAX_AI + 1):
                values[f"io.AI{n}"] = self._analog(n)
            values["io.power_input"] = self._volts(self.supply) if self.supply is not None else None
            values["io.igt_status"] = self._ignition(values)
            return values

    def _ignition(self, values: dict[str, Any]) -> int | None:
        """The ignition sense input's level, inverted for an active-low input."""
        level = values.get(f"io.DI{self.settings.igt_input}") if self.settings.igt_input else None
        return None if level is None else level ^ int(self.settings.igt_active_low)

    def _analog(self, n: int) -> float | None:
        """Volts at AI n from the raw code (gpiozero's ``value`` is offset by half a step)."""
        if n > len(self.adcs):
            return None
        return self._volts(self.adcs[n - 1])

    def _volts(self, adc: Any) -> float:
        return volts(adc.raw_value / (2**adc.bits - 1), self.settings)

    def _pullup_state(self, n: int) -> int | None:
        if n > len(self.outputs):
            return None
        device = self.pullups[n - 1]
        return int(device.value) if device is not None else self.settings.do[n - 1].initial_pullup

    def apply(self, changes: dict[OutputKey, int]) -> None:
        """Drive outputs and input pull-ups; raises DeviceIOError for ones the board lacks."""
        with self.lock, hardware("setting outputs"):
            for (n, kind), value in sorted(changes.items()):
                if kind == "input_pullup":
                    self._pull_input(n, value)
                    continue
                devices = self.outputs if kind == "value" else self.pullups
                device = devices[n - 1] if n <= len(devices) else None
                if device is None:
                    suffix = "" if kind == "value" else "_pullup"
                    raise DeviceIOError(f"io.DO{n}{suffix}: no such output on this board")
                device.value = value

    def _pull_input(self, n: int, up: int) -> None:
        if n > len(self.inputs):
            raise DeviceIOError(f"io.DI{n}_pullup: no such input on this board")
        self.inputs[n - 1].pin.pull = "up" if up else "down"

    def close(self) -> None:
        with self.lock:
            self._close_all()

    def _close_all(self) -> None:
        for device in reversed(self._devices):
            with contextlib.suppress(Exception):
                device.close()
        self._devices.clear()


_OUTPUT_KEY = re.compile(r"io\.D[O0]([1-4])(_pullup)?")
_INPUT_PULLUP_KEY = re.compile(r"io\.DI([1-6])_pullup")


def output_changes(values: dict[str, Any]) -> dict[OutputKey, int]:
    """``{"io.DO1": 1, "io.DO2_pullup": 0, "io.DI3_pullup": 1}`` ->
    ``{(1, "value"): 1, (2, "pullup"): 0, (3, "input_pullup"): 1}``.

    Accepts the reference's ``io.D0{n}`` spelling as an alias; raises ValueError
    naming the key for anything that is not an output, an input pull-up, or not 0/1.
    """
    changes: dict[OutputKey, int] = {}
    for key, value in values.items():
        match = _OUTPUT_KEY.fullmatch(key)
        pullup = _INPUT_PULLUP_KEY.fullmatch(key)
        if match is None and pullup is None:
            raise ValueError(f"{key}: not an output (io.DO1..4, io.DO1_pullup..4, io.DI1_pullup..6)")
        if value not in (0, 1) or isinstance(value, float):
            raise ValueError(f"{key}: must be 0 or 1, got {value!r}")
        if pullup is not None:
            changes[(int(pullup[1]), "input_pullup")] = int(value)
        else:
            assert match is not None
            changes[(int(match[1]), "pullup" if match[2] else "value")] = int(value)
    return changes
