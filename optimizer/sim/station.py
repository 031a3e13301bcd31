"""A simulated OCPP 1.6J charging station on the `ocpp` library, for the demo and the tests.

It behaves like a station's smart-charging module as OCPP 1.6 describes it: charging profiles
are stored by id; the limit in force is the running transaction's TxProfile, else the
TxDefaultProfile (absolute or relative to the transaction's start, `validTo` respected), else
the station's own maximum; GetCompositeSchedule is computed from them; remote start/stop end in
StartTransaction/StopTransaction. The car side is `offered_a(now)`: what the EV may draw now.
Its clock is injected, so an accelerated demo runs it on the service's time.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action, ChargePointErrorCode
from websockets.asyncio.client import ClientConnection, connect

from optimizer.chargers.ocpp_common import after, on
from optimizer.ports import Clock

MIN_CURRENT_A = 6.0


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class StoredProfile:
    purpose: str
    stack_level: int
    absolute: bool
    start: datetime | None
    periods: tuple[tuple[int, float], ...]
    duration_s: int | None
    valid_to: datetime | None
    transaction_id: int | None


class SimStation(ChargePoint):  # type: ignore[misc]
    """One connector. `received` keeps every accepted SetChargingProfile (tests, demo)."""

    def __init__(self, station_id: str, connection: ClientConnection, clock: Clock, *,
                 max_current_a: float = 16.0, max_periods: int = 48,
                 previous: SimStation | None = None) -> None:
        super().__init__(station_id, connection, response_timeout=10)
        self.clock = clock
        self.max_current_a = max_current_a
        self.max_periods = max_periods
        self.profiles: dict[int, StoredProfile] = {}
        self.transaction_id: int | None = None
        self.transaction_start: datetime | None = None
        self.energy_wh = 0.0
        self.status = "Available"
        self.profile_event = asyncio.Event()
        self.received: list[StoredProfile] = []
        if previous is not None:  # the same box on a new connection (e.g. after our restart)
            self.profiles = dict(previous.profiles)
            self.transaction_id = previous.transaction_id
            self.transaction_start = previous.transaction_start
            self.energy_wh = previous.energy_wh
            self.status = previous.status

    # -- what the station sends ---------------------------------------------------------

    async def boot(self) -> None:
        await self.call(call.BootNotification(charge_point_vendor="ev-optimizer",
                                              charge_point_model="SimStation16"))

    async def send_status(self, status: str) -> None:
        self.status = status
        await self.call(call.StatusNotification(
            connector_id=1, error_code=ChargePointErrorCode.no_error, status=status))

    async def send_meter(self, power_w: float, *, at: datetime | None = None,
                         energy_wh: float | None = None) -> None:
        """A meter sample (now and the current register, unless given: a re-send)."""
        energy = self.energy_wh if energy_wh is None else energy_wh
        await self.call(call.MeterValues(connector_id=1, transaction_id=self.transaction_id,
                                         meter_value=[{
            "timestamp": _iso(at or self.clock.now()),
            "sampled_value": [
                {"value": f"{energy:.0f}", "measurand": "Energy.Active.Import.Register",
                 "unit": "Wh"},
                {"value": f"{power_w:.0f}", "measurand": "Power.Active.Import", "unit": "W"},
            ]}]))

    async def stop_transaction(self) -> None:
        if self.transaction_id is None:
            return
        transaction, self.transaction_id = self.transaction_id, None
        await self.call(call.StopTransaction(meter_stop=round(self.energy_wh),
                                             timestamp=_iso(self.clock.now()),
                                             transaction_id=transaction))
        self.profiles = {k: p for k, p in self.profiles.items() if p.purpose != "TxProfile"}

    # -- the limit in force -------------------------------------------------------------

    def limit_at(self, at: datetime) -> float:
        for purpose in ("TxProfile", "TxDefaultProfile"):
            for profile in sorted((p for p in self.profiles.values() if p.purpose == purpose),
                                  key=lambda p: -p.stack_level):
                if purpose == "TxProfile" and profile.transaction_id != self.transaction_id:
                    continue
                limit = self._limit(profile, at)
                if limit is not None:
                    return min(limit, self.max_current_a)
        return self.max_current_a

    def _limit(self, profile: StoredProfile, at: datetime) -> float | None:
        if profile.valid_to is not None and at >= profile.valid_to:
            return None
        start = profile.start if profile.absolute else self.transaction_start
        if start is None or at < start:
            return None
        offset_s = (at - start).total_seconds()
        if profile.duration_s is not None and offset_s >= profile.duration_s:
            return None
        found = None
        for start_s, limit in profile.periods:
            if start_s <= offset_s:
                found = limit
        return found

    def offered_a(self, now: datetime) -> float:
        """What the car may draw now: nothing outside a transaction or below 6 A."""
        if self.transaction_id is None:
            return 0.0
        limit = self.limit_at(now)
        return limit if limit >= MIN_CURRENT_A else 0.0

    # -- what the central system asks ---------------------------------------------------

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> Any:
        known = {"ChargingScheduleMaxPeriods": str(self.max_periods)}
        asked = key or list(known)
        return call_result.GetConfiguration(
            configuration_key=[{"key": k, "readonly": True, "value": known[k]}
                               for k in asked if k in known],
            unknown_key=[k for k in asked if k not in known] or None)

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any],
                                **_: Any) -> Any:
        return call_result.SetChargingProfile(
            status="Accepted" if self._store(cs_charging_profiles) else "Rejected")

    def _store(self, raw: dict[str, Any]) -> bool:
        schedule = raw["charging_schedule"]
        periods = tuple((int(p["start_period"]), float(p["limit"]))
                        for p in schedule["charging_schedule_period"])
        purpose = raw["charging_profile_purpose"]
        transaction = raw.get("transaction_id") or self.transaction_id
        if len(periods) > self.max_periods or (purpose == "TxProfile" and transaction is None):
            return False
        self.profiles[int(raw["charging_profile_id"])] = stored = StoredProfile(
            purpose=purpose, stack_level=int(raw["stack_level"]),
            absolute=raw["charging_profile_kind"] == "Absolute",
            start=_parse(schedule["start_schedule"]) if schedule.get("start_schedule")
            else None,
            periods=periods, duration_s=schedule.get("duration"),
            valid_to=_parse(raw["valid_to"]) if raw.get("valid_to") else None,
            transaction_id=int(transaction) if purpose == "TxProfile" and transaction
            else None)
        self.received.append(stored)
        self.profile_event.set()
        return True

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(self, connector_id: int, duration: int, **_: Any) -> Any:
        now = self.clock.now().replace(microsecond=0)  # stations count in whole seconds
        instants = {now}
        for profile in self.profiles.values():
            base = profile.start if profile.absolute else self.transaction_start
            if base is not None:
                instants.update(base + timedelta(seconds=s) for s, _ in profile.periods)
            if profile.valid_to is not None:
                instants.add(profile.valid_to)
        end = now + timedelta(seconds=duration)
        periods: list[dict[str, Any]] = []
        for at in sorted(t for t in instants if now <= t < end):
            limit = round(self.limit_at(at), 1)
            if not periods or periods[-1]["limit"] != limit:
                periods.append({"startPeriod": int((at - now).total_seconds()),
                                "limit": limit})
        return call_result.GetCompositeSchedule(
            status="Accepted", connector_id=connector_id, schedule_start=_iso(now),
            charging_schedule={"chargingRateUnit": "A", "duration": duration,
                               "startSchedule": _iso(now), "chargingSchedulePeriod": periods})

    @on(Action.remote_start_transaction)
    def on_remote_start(self, id_tag: str, **_: Any) -> Any:
        ok = self.transaction_id is None and self.status != "Available"
        return call_result.RemoteStartTransaction(status="Accepted" if ok else "Rejected")

    @after(Action.remote_start_transaction)
    async def after_remote_start(self, id_tag: str, **kwargs: Any) -> None:
        if self.transaction_id is not None or self.status == "Available":
            return
        result = await self.call(call.StartTransaction(
            connector_id=1, id_tag=id_tag, meter_start=round(self.energy_wh),
            timestamp=_iso(self.clock.now())))
        self.transaction_id = int(result.transaction_id)
        self.transaction_start = self.clock.now()
        if kwargs.get("charging_profile"):
            self._store(kwargs["charging_profile"])
        await self.send_status("SuspendedEVSE")

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id: int, **_: Any) -> Any:
        ok = transaction_id == self.transaction_id
        return call_result.RemoteStopTransaction(status="Accepted" if ok else "Rejected")

    @after(Action.remote_stop_transaction)
    async def after_remote_stop(self, transaction_id: int, **_: Any) -> None:
        if transaction_id == self.transaction_id:
            await self.stop_transaction()
            await self.send_status("Finishing")


def basic_auth(station_id: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def connect_station(url: str, station_id: str, password: str, clock: Clock,
                          **options: Any) -> tuple[SimStation, asyncio.Task[None]]:
    """Connect (HTTP Basic, OCPP 1.6J) and boot; returns the station and its receive task.
    `previous=<SimStation>` carries a box's state (transaction, meter, profiles) over to the
    new connection."""
    connection = await connect(f"{url.rstrip('/')}/{station_id}",
                               subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                               additional_headers=basic_auth(station_id, password))
    station = SimStation(station_id, connection, clock, **options)
    task = asyncio.ensure_future(station.start())
    await station.boot()
    return station, task
