"""A simulated engine ECU answering OBD-II on python-can's ``virtual`` bus from the vehicle model.

Functional Mode 01 requests (0x7DF) get single-frame replies from 0x7E8; physical
requests (0x7E0) go through a can-isotp stack, which segments the 20-byte VIN reply
and honours flow control exactly as a real ECU does, and answers Mode 03 with the
stored trouble codes the vehicle model holds (set through the simulator's ``obd.dtc``)
and UDS ReadDataByIdentifier (0x22) for the manufacturer DIDs of :mod:`.ecu_dids`. The ECU
answers while the ignition is on, also with the engine stopped, and for its after-run
(10 s) once the key is off; then, or when a test sets :attr:`silent`, it does not
answer (a silent bus).

One thread serves the bus: it blocks in ``bus.recv`` until a request arrives and
answers from the vehicle state at that instant (nothing is computed ahead of a
request). Physical requests go through can-isotp's thread-less ``TransportLayerLogic``,
processed by the same thread as frames arrive; it wakes early only to keep a
requested separation time between consecutive frames.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
from collections.abc import Mapping

import can
import isotp

from nodes.sources.obd.client import ISOTP_PARAMS, PADDING
from nodes.sources.obd.dids import DEFAULT_DIDS, DidSpec
from nodes.sources.sim.ecu_dids import RDBI, DidServer
from nodes.sources.sim.ecu_pids import encode
from nodes.sources.sim.vehicle import Vehicle, VehicleState

log = logging.getLogger("flowengine.sim.ecu")
#: Longest wait in ``bus.recv`` while idle: only bounds how late a stop is noticed on buses
#: the ECU cannot wake itself (on the virtual bus :meth:`SimulatedEcu.stop` wakes it at once).
IDLE_WAIT_S = 2.0


class SimulatedEcu:
    """Owns its bus end, ISO-TP layer and serving thread; :meth:`stop` is idempotent."""

    def __init__(
        self,
        vehicle: Vehicle,
        channel: str,
        *,
        interface: str = "virtual",
        request_id: int = 0x7DF,
        ecu_id: int = 0x7E8,
        physical_id: int = 0x7E0,
        dids: Mapping[str, DidSpec] | None = None,
    ) -> None:
        self.vehicle, self.channel, self.interface = vehicle, channel, interface
        self.dids = DidServer(DEFAULT_DIDS if dids is None else dids)
        self.request_id, self.ecu_id, self.physical_id = request_id, ecu_id, physical_id
        self.silent = False
        #: Functional Mode 01 requests seen, by PID (tests count polls with it).
        self.requests: collections.Counter[int] = collections.Counter()
        wanted = [{"can_id": i, "can_mask": 0x7FF, "extended": False} for i in (request_id, physical_id)]
        self.bus = can.Bus(interface=interface, channel=channel, can_filters=wanted)
        address = isotp.Address(isotp.AddressingMode.Normal_11bits, txid=ecu_id, rxid=physical_id)
        self._frames: collections.deque[isotp.CanMessage] = collections.deque()
        # an rxfn without parameters is non-blocking for can-isotp: frames come from _dispatch
        self.stack = isotp.TransportLayerLogic(self._next_frame, self._transmit, address, params=dict(ISOTP_PARAMS))  # type: ignore[arg-type]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="sim-ecu", daemon=True)

    def start(self) -> SimulatedEcu:
        self._thread.start()
        return self

    @property
    def answering(self) -> bool:
        return not self.silent and self.vehicle.state().ecu_awake

    def respond(self, request: bytes, state: VehicleState | None = None) -> bytes | None:
        """The reply payload (without ISO-TP framing) for a request payload, None for no answer."""
        state = state or self.vehicle.state()
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

    def _serve(self) -> None:
        while not self._stop.is_set():
            delay = self.stack.next_cf_delay()  # sending a long reply: wake for the next frame
            try:
                msg = self.bus.recv(IDLE_WAIT_S if delay is None else delay)
            except can.CanError:
                break
            if msg is not None and not self._stop.is_set():
                self._dispatch(msg)
            self._process_physical()

    def _dispatch(self, msg: can.Message) -> None:
        if msg.is_extended_id:
            return
        if msg.arbitration_id == self.request_id:
            self._on_functional(bytes(msg.data))
        elif msg.arbitration_id == self.physical_id:
            self._frames.append(isotp.CanMessage(arbitration_id=msg.arbitration_id, data=bytes(msg.data)))

    def _on_functional(self, data: bytes) -> None:
        length = data[0] if data else 0
        if not 1 <= length <= 7:
            return
        request = data[1 : 1 + length]
        if request[:1] == b"\x01" and len(request) >= 2:
            self.requests[request[1]] += 1
        state = self.vehicle.state()  # the vehicle at the instant of the request
        if self.silent or not state.ecu_awake:
            return
        reply = self.respond(request, state)
        if reply is not None and len(reply) <= 7:
            frame = bytes([len(reply)]) + reply
            self._send(
                can.Message(arbitration_id=self.ecu_id, data=frame.ljust(8, bytes([PADDING])), is_extended_id=False)
            )

    def _process_physical(self) -> None:
        self.stack.process()
        while (request := self.stack.recv()) is not None:
            if not self.answering:
                continue
            reply = self.respond(bytes(request))
            if reply is not None:
                self.stack.send(reply)
                self.stack.process()

    def _next_frame(self) -> isotp.CanMessage | None:
        return self._frames.popleft() if self._frames else None

    def _transmit(self, msg: isotp.CanMessage) -> None:
        self._send(can.Message(arbitration_id=msg.arbitration_id, data=msg.data, is_extended_id=False))

    def _send(self, msg: can.Message) -> None:
        with contextlib.suppress(can.CanError):
            self.bus.send(msg)

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._wake()
        if self._thread.is_alive():
            self._thread.join(IDLE_WAIT_S + 1.0)
        self.bus.shutdown()

    def _wake(self) -> None:
        """A frame on the ECU's own bus ends its wait in ``bus.recv`` (virtual bus only)."""
        if self.interface != "virtual":
            return
        with contextlib.suppress(Exception):
            poke = can.Bus(interface="virtual", channel=self.channel)
            poke.send(can.Message(arbitration_id=self.request_id, data=b"\x00", is_extended_id=False))
            poke.shutdown()


def dtc_bytes(code: str) -> bytes:
    """A stored code as Mode 03 sends it: the system (P, C, B, U) in the top two bits, then its four digits."""
    return ("PCBU".index(code[0]) << 14 | int(code[1:], 16)).to_bytes(2, "big")
