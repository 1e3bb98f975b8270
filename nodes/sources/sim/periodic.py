"""The writer thread every simulated device shares: tick every period, stop once."""

from __future__ import annotations

import threading


class PeriodicDevice:
    """Calls :meth:`tick` on a daemon thread every ``period`` seconds until :meth:`stop`.

    :meth:`stop` is idempotent: it ends the thread, then :meth:`release` frees what
    the device holds (a pty, a temp tree), so the reader sees the device vanish.
    """

    def __init__(self, name: str, period: float) -> None:
        self.period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start_thread(self) -> None:
        self._thread.start()

    def tick(self) -> None:
        raise NotImplementedError

    def release(self) -> None:
        """Free the device's resources once the thread has ended."""

    def _run(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.period)

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        self.release()
