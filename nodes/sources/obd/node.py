"""``obd source``: OBD-II over CAN into ``obd.*`` (Appendix A.4).

Settings (``[sources.obd]``): ``interface`` (python-can interface, default ``socketcan``),
``channel`` (``can0``), ``bitrate`` (500000), ``request_id``/``ecu_id``/``physical_id``
(0x7DF/0x7E8/0x7E0), ``timeout_s`` (0.1: reply deadline per request), ``gap_s`` (0.01:
pause between requests), ``max_misses`` (3 cycles without any reply = ECU gone),
``monitors`` (``since_clear`` from PID 01 or ``drive_cycle`` from PID 41), and
``dids`` (``[sources.obd.dids]``: key -> manufacturer DID read with UDS service 0x22,
see :mod:`.dids`).

Only PIDs the ECU announces in its bitmaps are polled, then the DIDs, one request at a
time at the same pace. The stored trouble codes (Mode 03) are read at connection, when
PID 01's code count changes and every ``DTC_REFRESH_S``; whenever the set of codes
changes it goes out on the second output, ``{"topic": "obd/dtc", "payload": {"codes":
[...], "desc": {code: description}}}``, after the values of the poll that read them. ``obd.status`` (``Connecting``, ``Connected``,
``Disconnected``), ``obd.protocol`` (``OBD-II``: J1979 on CAN), ``obd.iftype`` (``CAN``)
and ``obd.bitrate`` (the configured bitrate, when 250 or 500 kbit/s) describe the link. A DID the ECU rejects as unknown (``7F 22 31``) is not asked
again until the next connection. Derived values (only where no PID or DID gave one):
``obd.f_rate`` from MAF when PID 5E is missing; ``obd.f_econ`` = speed / fuel rate;
``obd.t_dist`` integrates PID 0D speed since the engine started (PID 1F resets).
Simulated: an ECU on python-can's ``virtual`` bus, driven by the vehicle model.

A poll cycle (every PID, then every DID, the VIN while unknown, and the stored trouble
codes when PID 01's count changed or every 30 s) is one call on the node's device thread; between cycles the bus is not touched, so the ``interval`` (10 s
by default) is the whole cost of the source.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from flowengine.errors import DeviceIOError
from flowengine.message import make_msg
from nodes.sources.base import SourceNode
from nodes.sources.obd.dids import DEFAULT_DIDS, DidSpec, check_key, decode_did
from nodes.sources.obd.dtcs import describe
from nodes.sources.obd.pids import KEYS, MODE01, decode, fuel_rate_from_maf

if TYPE_CHECKING:
    from nodes.sources.obd.client import Cycle, ObdClient
    from nodes.sources.sim.ecu import SimulatedEcu

VIN_RETRY_S = 30.0
DTC_REFRESH_S = 30.0
MAX_ECON = 125.5
#: The diagnostic link, beside the vehicle's values (FlexAPI 1.0.9 and later).
LINK_KEYS = ("obd.status", "obd.protocol", "obd.bitrate", "obd.iftype")
BITRATES = (250_000, 500_000)
DTC_TOPIC = "obd/dtc"


class ObdSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interface: str = Field(default="socketcan", min_length=1)
    channel: str = Field(default="can0", min_length=1)
    bitrate: int = Field(default=500_000, ge=10_000, le=1_000_000)
    request_id: int = Field(default=0x7DF, ge=0, le=0x7FF)
    ecu_id: int = Field(default=0x7E8, ge=0, le=0x7FF)
    physical_id: int = Field(default=0x7E0, ge=0, le=0x7FF)
    timeout_s: float = Field(default=0.1, gt=0, le=5)
    gap_s: float = Field(default=0.01, ge=0, le=1)
    max_misses: int = Field(default=3, ge=1, le=100)
    monitors: Literal["since_clear", "drive_cycle"] = "since_clear"
    dids: dict[str, DidSpec] = Field(
        default_factory=lambda: dict(DEFAULT_DIDS), description="A.4 key -> manufacturer DID (replaces the default)"
    )

    @field_validator("dids", mode="before")
    @classmethod
    def _full_keys(cls, value: Any) -> Any:
        """``brake`` and ``obd.brake`` name the same key."""
        if isinstance(value, dict):
            return {k if str(k).startswith("obd.") else f"obd.{k}": v for k, v in value.items()}
        return value

    @field_validator("dids")
    @classmethod
    def _one_key_per_did(cls, value: dict[str, DidSpec]) -> dict[str, DidSpec]:
        seen: dict[int, str] = {}
        for key, spec in value.items():
            check_key(key)
            if spec.did in seen:
                raise ValueError(f"DID 0x{spec.did:04X} is used by {seen[spec.did]} and {key}")
            seen[spec.did] = key
        return value


def wanted_pids(supported: set[int], monitors: str) -> list[int]:
    """What to poll: decodable PIDs the ECU supports, without redundant ones."""
    skip = {0x41 if monitors == "since_clear" else -1}
    if 0x49 in supported:
        skip.add(0x4A)
    if 0x5E in supported:
        skip.add(0x10)
    return sorted(p for p in supported & set(MODE01) if p not in skip)


class ObdSourceNode(SourceNode):
    """Discovers supported PIDs, reads the VIN, then polls every ``interval``.

    Outputs: 1 the ``obd.*`` values; 2 the stored trouble codes whenever they change.
    """

    outputs = 2
    prefixes: ClassVar[tuple[str, ...]] = ("obd",)
    keys: ClassVar[tuple[str, ...]] = (*KEYS, *LINK_KEYS)
    Settings: ClassVar[type[BaseModel] | None] = ObdSettings

    async def on_start(self) -> None:
        self.ecu: SimulatedEcu | None = None
        self.vin: str | None = None
        self.trip_km = 0.0
        self.codes: list[str] | None = None  # stored trouble codes last sent
        self._codes_read: tuple[int | None, float] = (None, 0.0)  # PID 01 count, when
        await super().on_start()

    def link(self, status: str) -> dict[str, Any]:
        """``obd.status`` and the link it speaks of (J1979 over CAN at the configured bitrate)."""
        bitrate = self.hw.bitrate if self.hw.bitrate in BITRATES else None
        return {"obd.status": status, "obd.protocol": "OBD-II", "obd.bitrate": bitrate, "obd.iftype": "CAN"}

    def publish_invalid(self, status: str = "Disconnected") -> None:
        """Every value invalid; the link ``Disconnected`` (or ``Connecting`` while trying again)."""
        self.send(make_msg({**dict.fromkeys(KEYS), **self.link(status)}, topic=self.source_name))

    async def run_backend(self) -> None:
        hw = self.hw
        interface, channel = hw.interface, hw.channel
        ids = {"request_id": hw.request_id, "ecu_id": hw.ecu_id, "physical_id": hw.physical_id}
        if self.simulated:
            interface, channel = "virtual", f"flowengine-obd-{id(self.runtime):x}-{self.id}"
            self.ecu = await self._simulated_ecu(channel, ids)
        options = {"timeout": hw.timeout_s, "gap": hw.gap_s, **ids}
        client = await self.device.call(_open_client, interface, channel, hw.bitrate, options)
        try:
            self.publish_invalid("Connecting")
            await self._session(client)
        except Exception:
            if self.healthy is False:  # a retry failed: the supervisor has nothing new to say, the link has
                self.publish_invalid()
            raise
        finally:
            self.device.submit(client.close)
            if self.ecu is not None:
                self.device.submit(self.ecu.stop)
                self.ecu = None

    async def _simulated_ecu(self, channel: str, ids: dict[str, int]) -> SimulatedEcu:
        """The ECU on a virtual bus (the simulator is imported only here)."""
        vehicle, dids = await self.simulator("nodes.sources.sim.ecu"), self.hw.dids
        from nodes.sources.sim.ecu import SimulatedEcu

        return await self.device.call(
            lambda: SimulatedEcu(
                vehicle,
                channel,
                dids=dids,
                request_id=ids["request_id"],
                ecu_id=ids["ecu_id"],
                physical_id=ids["physical_id"],
            ).start()
        )

    async def _session(self, client: ObdClient) -> None:
        pids = wanted_pids(await self.device.call(client.discover), self.hw.monitors)
        self.log.info("ECU 0x%03X supports %d decodable PID(s)", self.hw.ecu_id, len(pids))
        dids: dict[str, DidSpec] = dict(self.hw.dids)  # absent DIDs leave for this connection
        interval = self.config.interval  # type: ignore[attr-defined]
        misses, vin_at, last = 0, -VIN_RETRY_S, None
        while True:
            started = self.clock.now()
            read_vin = self.vin is None and started - vin_at >= VIN_RETRY_S
            vin_at = started if read_vin else vin_at
            asked = [spec.did for spec in dids.values()]
            codes_due = self._codes_due(started)
            cycle = await self.device.call(client.poll, pids, asked, self.hw.max_misses, read_vin, codes_due)
            self.vin = self.vin or cycle.vin
            from_dids = self._did_values(cycle, dids)
            misses = 0 if cycle.pids else misses + 1
            if cycle.pids:
                self.publish(self._values(cycle.pids, from_dids, started - last if last is not None else 0.0))
                text = f"{len(cycle.pids)}/{len(pids)} PIDs, {len(from_dids)}/{len(dids)} DIDs"
                self.status("green", "dot", text + (f", VIN {self.vin}" if self.vin else ""))
                last = started
            # after the values of the same poll: a trouble code event's snapshot holds the count and MIL
            self._trouble_codes(cycle, started)
            if misses >= self.hw.max_misses:
                raise DeviceIOError(f"ECU 0x{self.hw.ecu_id:03X} stopped answering")
            await self.clock.sleep(max(0.0, started + interval - self.clock.now()))

    def _codes_due(self, now: float) -> Callable[[bytes | None], bool]:
        """Whether a cycle reads Mode 03, given its PID 01 reply: when the code count changed, or now and then."""
        known, (last_count, read_at) = self.codes is not None, self._codes_read

        def due(status: bytes | None) -> bool:
            return not known or _code_count(status) != last_count or now - read_at >= DTC_REFRESH_S

        return due

    def _trouble_codes(self, cycle: Cycle, now: float) -> None:
        """Send the stored codes when they changed (``obd/dtc`` on output 1)."""
        if cycle.dtcs is None:
            return
        self._codes_read = (_code_count(cycle.pids.get(0x01)), now)
        if cycle.dtcs != self.codes:
            self.codes = cycle.dtcs
            self.send(make_msg({"codes": cycle.dtcs, "desc": describe(cycle.dtcs)}, topic=DTC_TOPIC), port=1)

    def _did_values(self, cycle: Cycle, dids: dict[str, DidSpec]) -> dict[str, Any]:
        """Decoded DIDs; an unknown DID is dropped from ``dids``, a refused or bad one skipped this cycle."""
        values: dict[str, Any] = {}
        for key, spec in list(dids.items()):
            reply = cycle.dids.get(spec.did)
            if reply is None or reply.data is None:
                if reply is not None and reply.absent:
                    del dids[key]
                    self.log.info("%s: ECU has no DID 0x%04X (NRC %02X); not asked again", key, spec.did, reply.nrc)
                continue
            try:
                values[key] = decode_did(key, spec, reply.data)
            except ValueError as exc:
                self.log.debug("%s", exc)
        return values

    def _values(self, raw: dict[int, bytes], from_dids: dict[str, Any], elapsed: float) -> dict[str, Any]:
        decoded: dict[str, Any] = {}
        for pid, data in sorted(raw.items()):
            try:
                decoded.update(decode(pid, data))
            except ValueError as exc:
                self.log.debug("PID %02X: %s", pid, exc)
        values: dict[str, Any] = dict.fromkeys(KEYS)
        values.update({k: v for k, v in decoded.items() if k in values})
        values.update(from_dids)
        values["obd.vin"] = self.vin
        values.update(self.link("Connected"))
        if values["obd.f_rate"] is None and decoded.get("maf") is not None:
            values["obd.f_rate"] = fuel_rate_from_maf(decoded["maf"])
        trip = self._trip(values, elapsed)
        if values["obd.f_econ"] is None:
            values["obd.f_econ"] = fuel_economy(values["obd.speed"], values["obd.f_rate"])
        if values["obd.t_dist"] is None:
            values["obd.t_dist"] = trip
        return values

    def _trip(self, values: dict[str, Any], elapsed: float) -> float | None:
        """Distance since the engine started: PID 0D integrated, reset when PID 1F restarts."""
        speed, up_time = values["obd.speed"], values["obd.up_time"]
        if speed is None:
            return None
        previous = getattr(self, "_up_time", None)
        if up_time is not None and previous is not None and up_time < previous:
            self.trip_km = 0.0
        self._up_time = up_time
        self.trip_km += speed * elapsed / 3600.0
        return round(self.trip_km, 3)

    async def on_close(self) -> None:
        await super().on_close()
        if self.ecu is not None:
            self.ecu.stop()


def _open_client(interface: str, channel: str, bitrate: int, options: dict[str, Any]) -> ObdClient:
    from nodes.sources.obd.client import ObdClient  # python-can and can-isotp only when a bus is opened

    return ObdClient.open(interface, channel, bitrate, **options)


def fuel_economy(speed_kmh: int | None, rate_lph: float | None) -> float | None:
    """km/l from speed and fuel rate; fuel cut while rolling reads as the range maximum."""
    if speed_kmh is None or rate_lph is None:
        return None
    if rate_lph <= 0:
        return MAX_ECON if speed_kmh > 0 else None
    return round(min(MAX_ECON, speed_kmh / rate_lph), 2)


def _code_count(status: bytes | None) -> int | None:
    """The number of stored codes PID 01 reports (its first byte without the MIL bit)."""
    return status[0] & 0x7F if status else None
