"""``obd source``: OBD-II over CAN into ``obd.*`` (Appendix A.4).

Settings (``[sources.obd]``): ``interface`` (python-can interface, default ``socketcan``),
``channel`` (``can0``), ``bitrate`` (500000), ``request_id``/``ecu_id``/``physical_id``
(0x7DF/0x7E8/0x7E0), ``timeout_s`` (0.1: reply deadline per request), ``gap_s`` (0.01:
pause between requests), ``max_misses`` (3 cycles without any reply = ECU gone),
``monitors`` (``since_clear`` from PID 01 or ``drive_cycle`` from PID 41), and
``dids`` (``[sources.obd.dids]``: key -> manufacturer DID read with UDS service 0x22,
see :mod:`.dids`).

Only PIDs the ECU announces in its bitmaps are polled, then the DIDs, one request at a
time at the same pace. A DID the ECU rejects as unknown (``7F 22 31``) is not asked
again until the next connection. Derived values (only where no PID or DID gave one):
``obd.f_rate`` from MAF when PID 5E is missing; ``obd.f_econ`` = speed / fuel rate;
``obd.t_dist`` integrates PID 0D speed since the engine started (PID 1F resets).
Simulated: an ECU on python-can's ``virtual`` bus, driven by the vehicle model.

A poll cycle (every PID, then every DID, and the VIN while unknown) is one call on the
node's device thread; between cycles the bus is not touched, so the ``interval`` (10 s
by default) is the whole cost of the source.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from flowengine.errors import DeviceIOError
from nodes.sources.base import SourceNode
from nodes.sources.obd.dids import DEFAULT_DIDS, DidSpec, check_key, decode_did
from nodes.sources.obd.pids import KEYS, MODE01, decode, fuel_rate_from_maf

if TYPE_CHECKING:
    from nodes.sources.obd.client import Cycle, ObdClient
    from nodes.sources.sim.ecu import SimulatedEcu

VIN_RETRY_S = 30.0
MAX_ECON = 125.5


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
    """Discovers supported PIDs, reads the VIN, then polls every ``interval``."""

    prefixes: ClassVar[tuple[str, ...]] = ("obd",)
    keys: ClassVar[tuple[str, ...]] = KEYS
    Settings: ClassVar[type[BaseModel] | None] = ObdSettings

    async def on_start(self) -> None:
        self.ecu: SimulatedEcu | None = None
        self.vin: str | None = None
        self.trip_km = 0.0
        await super().on_start()

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
            await self._session(client)
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
            cycle = await self.device.call(client.poll, pids, asked, self.hw.max_misses, read_vin)
            self.vin = self.vin or cycle.vin
            from_dids = self._did_values(cycle, dids)
            misses = 0 if cycle.pids else misses + 1
            if misses >= self.hw.max_misses:
                raise DeviceIOError(f"ECU 0x{self.hw.ecu_id:03X} stopped answering")
            if cycle.pids:
                self.publish(self._values(cycle.pids, from_dids, started - last if last is not None else 0.0))
                text = f"{len(cycle.pids)}/{len(pids)} PIDs, {len(from_dids)}/{len(dids)} DIDs"
                self.status("green", "dot", text + (f", VIN {self.vin}" if self.vin else ""))
                last = started
            await self.clock.sleep(max(0.0, started + interval - self.clock.now()))

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
