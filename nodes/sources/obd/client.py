"""Blocking OBD-II client on a python-can bus: one request outstanding, paced, with timeouts.

Mode 01 requests go functionally to 0x7DF and the engine ECU's single-frame reply is
taken from 0x7E8. Physical requests (0x7E0) go through one can-isotp stack kept for the
session: the VIN (Mode 09 PID 02, 20 bytes, segmented with flow control), the stored
trouble codes (Mode 03, segmented beyond two codes) and UDS ReadDataByIdentifier (0x22)
for manufacturer DIDs. Every method blocks; the node calls
them from a worker thread, never from the event loop.
"""

from __future__ import annotations

import contextlib
import queue
import time
from collections.abc import Callable
from typing import Any

import can
import isotp

from flowengine.errors import DeviceIOError
from nodes.sources.obd.dids import DidReply, parse_rdbi, rdbi_request
from nodes.sources.obd.dtcs import MODE03_REPLY, MODE03_REQUEST, decode_dtcs
from nodes.sources.obd.pids import BITMAP_PIDS, MODE01_REPLY, decode_vin, parse_single_frame, supported

PADDING = 0x55
ISOTP_PARAMS = {"tx_padding": PADDING, "tx_data_min_length": 8, "blocking_send": False, "stmin": 0}
P2_STAR = 5.0  # ISO 14229 extended reply deadline after "response pending" (NRC 0x78)
MAX_PENDING = 3


class ObdClient:
    """Owns the bus, a notifier thread and the reply queue; :meth:`close` is idempotent."""

    def __init__(
        self,
        bus: can.BusABC,
        *,
        request_id: int = 0x7DF,
        ecu_id: int = 0x7E8,
        physical_id: int = 0x7E0,
        timeout: float = 0.1,
        gap: float = 0.01,
    ) -> None:
        self.bus, self.request_id, self.ecu_id, self.physical_id = bus, request_id, ecu_id, physical_id
        self.timeout, self.gap = timeout, gap
        self.replies: queue.Queue[bytes] = queue.Queue(maxsize=256)
        self.notifier = can.Notifier(bus, [self._on_frame], timeout=0.05)
        self._last_request = 0.0
        self._closed = False
        self._isotp: isotp.NotifierBasedCanStack | None = None

    @classmethod
    def open(cls, interface: str, channel: str, bitrate: int, **kwargs: Any) -> ObdClient:
        try:
            bus = can.Bus(interface=interface, channel=channel, bitrate=bitrate)
        except (can.CanError, OSError, ValueError, ImportError) as exc:
            raise DeviceIOError(f"cannot open CAN {interface}:{channel}: {exc}") from exc
        return cls(bus, **kwargs)

    def _on_frame(self, msg: can.Message) -> None:
        if msg.arbitration_id == self.ecu_id and not msg.is_extended_id:
            with contextlib.suppress(queue.Full):
                self.replies.put_nowait(bytes(msg.data))

    def request(self, pid: int) -> bytes | None:
        """Data bytes of ``41 <pid>``, or None when the ECU did not answer in time."""
        self._pace()
        self._drain()
        frame = bytes([0x02, 0x01, pid]).ljust(8, bytes([PADDING]))
        try:
            self.bus.send(can.Message(arbitration_id=self.request_id, data=frame, is_extended_id=False))
        except can.CanError as exc:
            raise DeviceIOError(f"CAN send failed: {exc}") from exc
        deadline = time.monotonic() + self.timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                reply = parse_single_frame(self.replies.get(timeout=left))
            except queue.Empty:
                break
            if reply and reply[0] == MODE01_REPLY and reply[1] == pid:
                return reply[2]
        return None

    def discover(self) -> set[int]:
        """Supported PIDs from the bitmaps 00, 20, 40 ...; DeviceIOError when nothing answers."""
        found: set[int] = set()
        for base in BITMAP_PIDS:
            if base and base not in found:
                break
            data = self.request(base)
            if data is None:
                if base == 0:
                    raise DeviceIOError(f"no ECU answered on 0x{self.ecu_id:03X}")
                break
            found |= supported(base, data)
        return found

    def read_vin(self, timeout: float = 1.0) -> str | None:
        """VIN through ISO-TP (physical addressing); None when unsupported or malformed."""
        payload = self._physical(b"\x09\x02", lambda p: p[:2] == b"\x49\x02", timeout)
        if payload is None:
            return None
        with contextlib.suppress(ValueError):
            return decode_vin(payload)
        return None

    def read_dtcs(self) -> list[str] | None:
        """Stored trouble codes (Mode 03); None when the ECU did not answer or the reply is malformed."""
        payload = self._physical(MODE03_REQUEST, lambda p: p[:1] == bytes([MODE03_REPLY]), self.timeout)
        if payload is None:
            return None
        with contextlib.suppress(ValueError):
            return decode_dtcs(payload)
        return None

    def read_did(self, did: int) -> DidReply | None:
        """UDS ReadDataByIdentifier: the data record or the negative response; None on timeout.

        "Response pending" (NRC 0x78) extends the deadline to P2* a few times, as ISO 14229 allows.
        """

        def accept(payload: bytes) -> bool:
            return parse_rdbi(did, payload) is not None

        payload = self._physical(rdbi_request(did), accept, self.timeout)
        for _ in range(MAX_PENDING):
            reply = parse_rdbi(did, payload) if payload is not None else None
            if reply is None or not reply.pending:
                return reply
            payload = self._receive(accept, P2_STAR)
        return parse_rdbi(did, payload) if payload is not None else None

    def _physical(self, request: bytes, accept: Callable[[bytes], bool], timeout: float) -> bytes | None:
        """One physical request through the session's ISO-TP stack; the first reply ``accept`` takes."""
        self._pace()
        stack = self._stack()
        self._drain()
        stack.send(request)
        return self._receive(accept, timeout)

    def _receive(self, accept: Callable[[bytes], bool], timeout: float) -> bytes | None:
        stack = self._stack()
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            payload = stack.recv(block=True, timeout=left)
            if payload is not None and accept(bytes(payload)):
                return bytes(payload)
        return None

    def _stack(self) -> isotp.NotifierBasedCanStack:
        if self._isotp is None:
            address = isotp.Address(isotp.AddressingMode.Normal_11bits, txid=self.physical_id, rxid=self.ecu_id)
            stack = isotp.NotifierBasedCanStack(self.bus, self.notifier, address=address, params=ISOTP_PARAMS)
            stack.start()
            self._isotp = stack
        return self._isotp

    def _pace(self) -> None:
        wait = self._last_request + self.gap - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_request = time.monotonic()

    def _drain(self) -> None:
        """Forget stale replies; the ISO-TP stack also sees the functional replies and must not pile them up."""
        with contextlib.suppress(queue.Empty):
            while True:
                self.replies.get_nowait()
        while self._isotp is not None and self._isotp.available():
            self._isotp.recv()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._isotp is not None:
            self._isotp.stop()
        self.notifier.stop(timeout=1.0)
        self.bus.shutdown()
