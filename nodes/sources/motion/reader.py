"""The motion source's device thread: reads the IMU only as fast as its consumers need.

The rate needed is the larger of the sample rate a consumer asked for (the ``samples``
output) and :data:`YAW_GYRO_HZ` while yaw integrates the gyroscope; it picks the mode:

- nothing needed: read both sensors once per ``interval`` (sysfs), nothing in between;
- a buffered device (``buffer/`` and ``/dev/iio:deviceN``): let the sensor sample into
  its FIFO and read a block about once a second (:mod:`.buffer`), every sample
  integrated into yaw;
- otherwise poll the sysfs files at the needed rate.

Readings (for the ``motion.*`` values) go to the loop once per ``interval``, samples as
they are made; both with ``call_soon_threadsafe`` through the stream. A change of
demand wakes the thread, which switches mode at once.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import select
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flowengine.errors import DeviceIOError
from nodes.sources.device import Stream
from nodes.sources.motion.attitude import integrate_yaw
from nodes.sources.motion.buffer import BLOCK_S, IioBuffer, RawSample
from nodes.sources.motion.iio import Channel

#: Gyroscope rate while yaw integrates it. Vehicle yaw changes below ~1 Hz in driving
#: (a junction turn takes seconds); on the simulated route a 1 Hz trapezoid drifts 15°
#: (p95) per hour against the true heading, 2 Hz 2.7°, 5 Hz 1.3°, the model's own
#: 10 Hz 0.2° (docs/sources/motion.md). Below the drift of a MEMS gyroscope's bias.
YAW_GYRO_HZ = 5.0
#: A buffered device that delivers nothing for this long is gone.
SILENCE_S = 3 * BLOCK_S
#: A gap between gyroscope samples longer than this is not integrated (a stall, a mode switch).
MAX_YAW_GAP_S = 2.0

Vector = tuple[float, float, float]


@dataclass(frozen=True)
class Reading:
    """What the ``motion.*`` values are made of; ``yaw`` None unless integrated from the gyroscope."""

    accel: Vector
    rates: Vector | None
    yaw: float | None


@dataclass(frozen=True)
class Sample:
    """One sample of the ``samples`` output: wall-clock seconds, g, deg/s."""

    t: float
    accel: Vector
    rates: Vector | None


class Waker:
    """A pipe to end a wait early (select-able, unlike an Event)."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)

    def fileno(self) -> int:
        return self._r

    def wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._w, b"x")

    def wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``; a :meth:`wake` ends it (and is consumed)."""
        ready, _, _ = select.select([self._r], [], [], max(0.0, seconds))
        if ready:
            self.drain()

    def drain(self) -> None:
        with contextlib.suppress(OSError):
            os.read(self._r, 4096)

    def close(self) -> None:
        for fd in (self._r, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)


class YawIntegrator:
    """Compass-style yaw from z-gyroscope samples (trapezoid rule over their timestamps)."""

    def __init__(self) -> None:
        self.yaw = 0.0
        self._last: tuple[float, float] | None = None

    def add(self, t: float, gz_dps: float) -> None:
        if self._last is not None and 0 < t - self._last[0] <= MAX_YAW_GAP_S:
            self.yaw = integrate_yaw(self.yaw, (self._last[1] + gz_dps) / 2, t - self._last[0])
        self._last = (t, gz_dps)

    def pause(self) -> None:
        self._last = None


class Resampler:
    """Samples on a ``1/rate`` grid from two streams: at each instant, the latest of each at or before it."""

    def __init__(self, rate: float, with_gyro: bool) -> None:
        self.period = 1.0 / rate
        self.with_gyro = with_gyro
        self.accel: list[tuple[float, Vector]] = []
        self.gyro: list[tuple[float, Vector]] = []
        self.next_t: float | None = None

    def add(self, accel: list[tuple[float, Vector]], gyro: list[tuple[float, Vector]]) -> None:
        self.accel.extend(accel)
        self.gyro.extend(gyro)

    def take(self) -> list[Sample]:
        if not self.accel or (self.with_gyro and not self.gyro):
            return []
        horizon = min(self.accel[-1][0], self.gyro[-1][0] if self.with_gyro else float("inf"))
        if self.next_t is None:
            self.next_t = max(self.accel[0][0], self.gyro[0][0] if self.with_gyro else 0.0)
        out = []
        while self.next_t <= horizon:
            rates = _at(self.gyro, self.next_t) if self.with_gyro else None
            out.append(Sample(self.next_t, _at(self.accel, self.next_t), rates))
            self.next_t += self.period
        self.accel = _keep_from(self.accel, self.next_t)
        self.gyro = _keep_from(self.gyro, self.next_t)
        return out


def _at(series: list[tuple[float, Vector]], t: float) -> Vector:
    index = bisect.bisect_right(series, t, key=lambda item: item[0])
    return series[max(0, index - 1)][1]


def _keep_from(series: list[tuple[float, Vector]], t: float) -> list[tuple[float, Vector]]:
    index = bisect.bisect_right(series, t, key=lambda item: item[0])
    return series[max(0, index - 1) :]


OnReading = Callable[[Reading], None]
OnSamples = Callable[[list[Sample]], None]


class MotionReader:
    """Owns the IMU's channels on the device thread; the loop only calls :meth:`want_samples`."""

    def __init__(
        self,
        accel: Path,
        gyro: Path | None,
        dev_root: Path | None,
        *,
        yaw_from_gyro: bool,
        interval: float,
        refresh: Callable[[], None] | None = None,
    ) -> None:
        self.accel = Channel.open(accel, "accel")
        self.gyro = Channel.open(gyro, "anglvel") if gyro is not None else None
        self.dev_root = dev_root
        self.yaw_from_gyro = yaw_from_gyro and gyro is not None
        self.interval = interval
        self.refresh = refresh
        self.sample_rate = 0.0
        self.mode = "starting"
        self.yaw = YawIntegrator()
        self.waker = Waker()

    def want_samples(self, rate: float) -> None:
        """From the loop: samples per second the ``samples`` output needs (0: none)."""
        if rate != self.sample_rate:
            self.sample_rate = rate
            self.waker.wake()

    def needed_rate(self) -> float:
        return max(self.sample_rate, YAW_GYRO_HZ if self.yaw_from_gyro else 0.0)

    def run(self, stream: Stream, on_reading: OnReading, on_samples: OnSamples) -> None:
        """The stream: one mode at a time until stopped; a change of demand switches mode."""
        stream.on_stop(self.waker.wake)
        try:
            while not stream.stopping:
                rate = self.needed_rate()
                self.yaw.pause()
                if rate <= 0:
                    self._slow(stream, on_reading)
                elif self._buffers() is not None:
                    self._buffered(stream, rate, on_reading, on_samples)
                else:
                    self._polled(stream, rate, on_reading, on_samples)
        finally:
            self.waker.close()

    def _unchanged(self, stream: Stream, rate: float) -> bool:
        return not stream.stopping and self.needed_rate() == rate

    # -- modes ------------------------------------------------------------------------------

    def _slow(self, stream: Stream, on_reading: OnReading) -> None:
        self.mode = f"every {self.interval:g} s"
        while self._unchanged(stream, 0.0):
            if self.refresh is not None:
                self.refresh()
            stream.deliver(on_reading, Reading(self.accel.read(), self.gyro.read() if self.gyro else None, None))
            self.waker.wait(self.interval)

    def _polled(self, stream: Stream, rate: float, on_reading: OnReading, on_samples: OnSamples) -> None:
        self.mode = f"polled {rate:g} Hz"
        due = time.monotonic()
        while self._unchanged(stream, rate):
            started = time.monotonic()
            if self.refresh is not None:
                self.refresh()
            rates = self.gyro.read() if self.gyro is not None else None
            if rates is not None and self.yaw_from_gyro:
                self.yaw.add(started, rates[2])
            sampling = self.sample_rate > 0
            if sampling or started >= due:
                accel = self.accel.read()
                if sampling:
                    stream.deliver(on_samples, [Sample(time.time(), accel, rates)])
                if started >= due:
                    stream.deliver(on_reading, self._reading(accel, rates))
                    due = max(due + self.interval, started)
            self.waker.wait(1.0 / rate - (time.monotonic() - started))

    def _buffered(self, stream: Stream, rate: float, on_reading: OnReading, on_samples: OnSamples) -> None:
        buffers = self._buffers()
        assert buffers is not None
        accel_buffer, gyro_buffer = buffers
        try:
            actual = [b.enable(rate) for b in (accel_buffer, gyro_buffer) if b is not None]
            self.mode = f"buffered {actual[0]:g} Hz"
            self._pump(stream, rate, accel_buffer, gyro_buffer, on_reading, on_samples)
        finally:
            for buffer in (accel_buffer, gyro_buffer):
                if buffer is not None:
                    buffer.disable()

    def _pump(
        self,
        stream: Stream,
        rate: float,
        accel_buffer: IioBuffer,
        gyro_buffer: IioBuffer | None,
        on_reading: OnReading,
        on_samples: OnSamples,
    ) -> None:
        resampler = Resampler(self.sample_rate, gyro_buffer is not None) if self.sample_rate > 0 else None
        latest: dict[str, Vector] = {}
        due = time.monotonic()
        fds = {b.fd: b for b in (accel_buffer, gyro_buffer) if b is not None and b.fd is not None}
        while self._unchanged(stream, rate):
            ready, _, _ = select.select([*fds, self.waker.fileno()], [], [], SILENCE_S)
            if not ready:
                raise DeviceIOError(f"the IMU buffer delivered nothing for {SILENCE_S:g}s")
            if self.waker.fileno() in ready:
                self.waker.drain()
            accel = self._convert(accel_buffer, fds, ready, self.accel)
            gyro = self._convert(gyro_buffer, fds, ready, self.gyro) if gyro_buffer is not None else []
            for t, rates in gyro:
                if self.yaw_from_gyro:
                    self.yaw.add(t, rates[2])
            if accel:
                latest["accel"] = accel[-1][1]
            if gyro:
                latest["gyro"] = gyro[-1][1]
            if resampler is not None:
                resampler.add(accel, gyro)
                if samples := resampler.take():
                    stream.deliver(on_samples, samples)
            now = time.monotonic()
            complete = "accel" in latest and (gyro_buffer is None or "gyro" in latest)
            if complete and now >= due:
                stream.deliver(on_reading, self._reading(latest["accel"], latest.get("gyro")))
                due = max(due + self.interval, now)

    # -- helpers ----------------------------------------------------------------------------

    def _convert(
        self, buffer: IioBuffer | None, fds: dict[int, IioBuffer], ready: list[int], channel: Channel | None
    ) -> list[tuple[float, Vector]]:
        if buffer is None or channel is None or buffer.fd not in ready:
            return []
        raw: list[RawSample] = buffer.read()
        return [(t, channel.convert(xyz)) for t, xyz in raw]

    def _reading(self, accel: Vector, rates: Vector | None) -> Reading:
        return Reading(accel, rates, self.yaw.yaw if self.yaw_from_gyro else None)

    def _buffers(self) -> tuple[IioBuffer, IioBuffer | None] | None:
        """The buffered interface of both devices, None when either lacks it."""
        if self.dev_root is None:
            return None
        devices = [(self.accel.device, "accel"), *([(self.gyro.device, "anglvel")] if self.gyro else [])]
        buffers = [IioBuffer(d, self.dev_root / d.name, kind) for d, kind in devices]
        if not all(IioBuffer.supported(b.device, b.dev_node, b.channel) for b in buffers):
            return None
        return buffers[0], buffers[1] if len(buffers) > 1 else None
