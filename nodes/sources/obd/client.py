"""Blocking OBD-II client on a python-can bus: one request outstanding, paced, with timeouts.

Mode 01 requests go functionally to 0x7DF and the engine ECU's single-frame reply is
taken from 0x7E8. Physical requests (0x7E0) go through one can-isotp transport layer
kept for the session: the VIN (Mode 09 PID 02, 20 bytes, segmented with flow control),
the stored trouble codes (Mode 03, segmented beyond two codes) and UDS
ReadDataByIdentifier (0x22) for manufacturer DIDs.

No thread of its own: every method runs on the obd source's device thread, which is
the only reader of the bus. Between requests nobody reads, and the bus is opened with a
filter for the ECU's reply id, so a busy vehicle bus does not pile frames up. The ISO-TP
layer is can-isotp's thread-less ``TransportLayerLogic``, driven by the request that
waits for it: it blocks in ``bus.recv`` until a frame arrives, never polls.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import can
import isotp

from flowengine.errors import DeviceIOError
from nodes.sources.drivers import DRIVER_LOGGER
from nodes.sources.obd.dids import DidReply, parse_rdbi, rdbi_request
from nodes.sources.obd.dtcs import MODE03_REPLY, MODE03_REQUEST, decode_dtcs
from nodes.sources.obd.pids import BITMAP_PIDS, MODE01_REPLY, decode_vin, parse_single_frame, supported

PADDING = 0x55
ISOTP_PARAMS = {
    "tx_padding": PADDING,
    "tx_data_min_length": 8,
    "blocking_send": False,
    "stmin": 0,
    "logger_name": f"{DRIVER_LOGGER}.isotp",
}
P2_STAR = 5.0  # ISO 14229 extended reply deadline after "response pending" (NRC 0x78)
MAX_PENDING = 3


@dataclass
class Cycle:
    """What one poll cycle got: PID replies, DID replies (None: no answer), the VIN and the stored
    trouble codes if they were read (None: not read, or no valid answer)."""

    pids: dict[int, bytes] = field(default_factory=dict)
    dids: dict[int, DidReply | None] = field(default_factory=dict)
    vin: str | None = None
    dtcs: list[str] | None = None


class ObdClient:
    """Owns the bus and the ISO-TP layer; :meth:`close` is idempotent."""

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
        self.requests = 0
        self._last_request = 0.0
        self._closed = False
        address = isotp.Address(isotp.AddressingMode.Normal_11bits, txid=physical_id, rxid=ecu_id)
        self._isotp = isotp.TransportLayerLogic(self._rx_isotp, self._tx_isotp, address, params=dict(ISOTP_PARAMS))

    @classmethod
    def open(cls, interface: str, channel: str, bitrate: int, **kwargs: Any) -> ObdClient:
        ecu_id = kwargs.get("ecu_id", 0x7E8)
        only_replies = [{"can_id": ecu_id, "can_mask": 0x7FF, "extended": False}]
        try:
            bus = can.Bus(interface=interface, channel=channel, bitrate=bitrate, can_filters=only_replies)
        except (can.CanError, OSError, ValueError, ImportError) as exc:
            raise DeviceIOError(f"cannot open CAN {interface}:{channel}: {exc}") from exc
        return cls(bus, **kwargs)

    # -- Mode 01, single frames -----------------------------------------------------------

    def request(self, pid: int) -> bytes | None:
        """Data bytes of ``41 <pid>``, or None when the ECU did not answer in time."""
        self._pace()
        self._drain()
        frame = bytes([0x02, 0x01, pid]).ljust(8, bytes([PADDING]))
        self._send(can.Message(arbitration_id=self.request_id, data=frame, is_extended_id=False))
        deadline = time.monotonic() + self.timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = self._recv(left)
            if msg is None:
                break
            reply = parse_single_frame(bytes(msg.data))
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

    def poll(
        self,
        pids: list[int],
        dids: list[int],
        max_misses: int,
        read_vin: bool = False,
        codes_due: Callable[[bytes | None], bool] | None = None,
    ) -> Cycle:
        """One cycle: every PID, then every DID (only when PIDs answered), the VIN when asked, and
        the stored trouble codes when ``codes_due(PID 01's reply)`` says so.

        ``max_misses`` timeouts in a row end a part early, so a silent bus costs a few
        request timeouts rather than one per PID.
        """
        cycle = Cycle(vin=self.read_vin() if read_vin else None)
        silent = 0
        for pid in pids:
            data = self.request(pid)
            silent = silent + 1 if data is None else 0
            if silent >= max_misses:
                break
            if data is not None:
                cycle.pids[pid] = data
        silent = 0
        for did in dids if cycle.pids else ():
            reply = cycle.dids[did] = self.read_did(did)
            silent = silent + 1 if reply is None else 0
            if silent >= max_misses:
                break
        if cycle.pids and codes_due is not None and codes_due(cycle.pids.get(0x01)):
            cycle.dtcs = self.read_dtcs()
        return cycle

    # -- physical requests through ISO-TP ---------------------------------------------------

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
        """One physical request; the first reply ``accept`` takes."""
        self._pace()
        self._drain()
        self._isotp.send(request)
        return self._receive(accept, timeout)

    def _receive(self, accept: Callable[[bytes], bool], timeout: float) -> bytes | None:
        """Drive the ISO-TP layer until a payload ``accept`` takes arrives or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self._isotp.process(rx_timeout=left)
            while (payload := self._isotp.recv()) is not None:
                if accept(bytes(payload)):
                    return bytes(payload)
        return None

    def _rx_isotp(self, timeout: float) -> isotp.CanMessage | None:
        """The layer's read: blocks for the next reply frame, but not while a whole payload waits."""
        if self._isotp.available():
            return None
        msg = self._recv(timeout)
        if msg is None:
            return None
        return isotp.CanMessage(arbitration_id=msg.arbitration_id, data=bytes(msg.data), extended_id=False)

    def _tx_isotp(self, msg: isotp.CanMessage) -> None:
        self._send(can.Message(arbitration_id=msg.arbitration_id, data=msg.data, is_extended_id=msg.is_extended_id))

    # -- the bus ---------------------------------------------------------------------------

    def _send(self, msg: can.Message) -> None:
        self.requests += 1
        try:
            self.bus.send(msg)
        except can.CanError as exc:
            raise DeviceIOError(f"CAN send failed: {exc}") from exc

    def _recv(self, timeout: float) -> can.Message | None:
        """The next frame from the ECU (the bus filter keeps the rest out), None after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = self.bus.recv(left)
            except can.CanError as exc:
                raise DeviceIOError(f"CAN receive failed: {exc}") from exc
            if msg is None:
                return None
            if msg.arbitration_id == self.ecu_id and not msg.is_extended_id and not msg.is_error_frame:
                return msg
        return None

    def _pace(self) -> None:
        wait = self._last_request + self.gap - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_request = time.monotonic()

    def _drain(self) -> None:
        """Forget stale replies (late answers to an earlier request)."""
        with contextlib.suppress(can.CanError):
            while self.bus.recv(0) is not None:
                pass
        self._isotp.reset()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.bus.shutdown()
