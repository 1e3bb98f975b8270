"""A simulated engine ECU answering OBD-II on python-can's ``virtual`` bus from the vehicle model.

Functional Mode 01 requests (0x7DF) get single-frame replies from 0x7E8; physical
requests (0x7E0) go through a can-isotp stack, which segments the 20-byte VIN reply
and honours flow control exactly as a real ECU does, and answers Mode 03 with the
stored trouble codes the vehicle model holds (set through the simulator's ``obd.dtc``)
and UDS ReadDataByIdentifier (0x22) for the manufacturer DIDs of :mod:`.ecu_dids`. The ECU
answers while the ignition is on, also with the engine stopped, and for its after-run
(10 s) once the key is off; then, or when a test sets :attr:`silent`, it does not
answer (a silent bus).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping

import can
import isotp

from nodes.sources.obd.dids import DEFAULT_DIDS, DidSpec
from nodes.sources.sim.ecu_dids import RDBI, DidServer
from nodes.sources.sim.ecu_pids import encode
from nodes.sources.sim.vehicle import Vehicle

log = logging.getLogger("flowengine.sim.ecu")
PADDING = 0x55
ISOTP_PARAMS = {"tx_padding": PADDING, "tx_data_min_length": 8, "blocking_send": False, "stmin": 0}


class SimulatedEcu:
    """Owns its bus end, notifier and ISO-TP stack; :meth:`stop` is idempotent."""

    def __init__(
        self,
        vehicle: Vehicle,
        channel: str,
        *,
        request_id: int = 0x7DF,
        ecu_id: int = 0x7E8,
        physical_id: int = 0x7E0,
        dids: Mapping[str, DidSpec] | None = None,
    ) -> None:
        self.vehicle, self.channel = vehicle, channel
        self.dids = DidServer(DEFAULT_DIDS if dids is None else dids)
        self.request_id, self.ecu_id, self.physical_id = request_id, ecu_id, physical_id
        self.silent = False
        self.bus = can.Bus(interface="virtual", channel=channel)
        self.notifier = can.Notifier(self.bus, [self._on_frame], timeout=0.05)
        address = isotp.Address(isotp.AddressingMode.Normal_11bits, txid=ecu_id, rxid=physical_id)
        self.stack = isotp.NotifierBasedCanStack(self.bus, self.notifier, address=address, params=ISOTP_PARAMS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve_physical, name="sim-ecu", daemon=True)

    def start(self) -> SimulatedEcu:
        self.stack.start()
        self._thread.start()
        return self

    @property
    def answering(self) -> bool:
        return not self.silent and self.vehicle.state().ecu_awake

    def respond(self, request: bytes) -> bytes | None:
        """The reply payload (without ISO-TP framing) for a request payload, None for no answer."""
        state = self.vehicle.state()
        if len(request) >= 2 and request[0] == 0x01:
            data = encode(request[1], state)
            return None if data is None else bytes([0x41, request[1]]) + data
        if request[:2] == b"\x09\x02":
            return b"\x49\x02\x01" + state.vin.encode("ascii")
        if request[:1] == b"\x03":
            return bytes([0x43, len(state.dtcs)]) + b"".join(dtc_bytes(c) for c in state.dtcs)
        if request[:1] == bytes([RDBI]):
            return self.dids.respond(request, state)
        return None

    def _on_frame(self, msg: can.Message) -> None:
        if msg.arbitration_id != self.request_id or msg.is_extended_id or not self.answering:
            return
        length = msg.data[0] if msg.data else 0
        if not 1 <= length <= 7:
            return
        reply = self.respond(bytes(msg.data[1 : 1 + length]))
        if reply is not None and len(reply) <= 7:
            frame = bytes([len(reply)]) + reply
            with contextlib.suppress(can.CanError):
                self.bus.send(
                    can.Message(arbitration_id=self.ecu_id, data=frame.ljust(8, bytes([PADDING])), is_extended_id=False)
                )

    def _serve_physical(self) -> None:
        while not self._stop.is_set():
            request = self.stack.recv(block=True, timeout=0.1)
            if request is None or not self.answering:
                continue
            reply = self.respond(bytes(request))
            if reply is not None:
                self.stack.send(reply)

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(2.0)
        self.stack.stop()
        self.notifier.stop(timeout=1.0)
        self.bus.shutdown()


def dtc_bytes(code: str) -> bytes:
    """A stored code as Mode 03 sends it: the system (P, C, B, U) in the top two bits, then its four digits."""
    return ("PCBU".index(code[0]) << 14 | int(code[1:], 16)).to_bytes(2, "big")
