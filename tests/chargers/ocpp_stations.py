"""Charging stations for the tests, built on the `ocpp` library (1.6 and 2.0.1).

They behave like a station's smart-charging module as the OCPP specs describe it: profiles are
stored by id, TxProfile needs a running transaction (or comes with a remote start), the
composite schedule is computed from what is installed (TxProfile over TxDefaultProfile, higher
stack level first, `validTo` respected, no profile = the station's own maximum), and remote
start/stop produce StartTransaction/StopTransaction or TransactionEvents.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as Cp16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16 import enums as enums16
from ocpp.v201 import ChargePoint as Cp201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201 import enums as enums201
from websockets.asyncio.client import ClientConnection, connect

STATION_MAX_A = 32.0


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Profile:
    """A stored charging profile, normalised across versions."""

    profile_id: int
    purpose: str
    kind: str
    stack_level: int
    periods: list[tuple[int, float]]
    start: datetime | None
    duration_s: int | None
    valid_to: datetime | None
    transaction_id: str | None
    connector: int
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


class SmartCharging:
    """The station-side profile store and composite-schedule computation."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.profiles: dict[int, Profile] = {}
        self.transaction_id: str | None = None
        self.transaction_start: datetime | None = None
        self.changed = asyncio.Event()
        self.start_pending: asyncio.Event | None = None

    async def transaction_known(self) -> None:
        """Messages are handled in wire order by a real station: a request that follows the
        StartTransaction answer sees the new transaction id. The library routes incoming calls
        before the task awaiting that answer resumes, so wait for it here."""
        if self.start_pending is not None:
            await asyncio.wait_for(self.start_pending.wait(), 5)

    def limit_at(self, at: datetime) -> float:
        for purpose in ("TxProfile", "TxDefaultProfile"):
            candidates = sorted(
                (p for p in self.profiles.values() if p.purpose == purpose),
                key=lambda p: -p.stack_level,
            )
            for profile in candidates:
                if purpose == "TxProfile" and profile.transaction_id != self.transaction_id:
                    continue
                limit = self._profile_limit(profile, at)
                if limit is not None:
                    return limit
        return STATION_MAX_A

    def _profile_limit(self, profile: Profile, at: datetime) -> float | None:
        if profile.valid_to is not None and at >= profile.valid_to:
            return None
        start = profile.start if profile.kind == "Absolute" else self.transaction_start
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

    def composite(self, duration_s: int) -> tuple[datetime, list[tuple[int, float]]]:
        now = self.clock.now()
        instants = {now}
        for profile in self.profiles.values():
            base = profile.start if profile.kind == "Absolute" else self.transaction_start
            if base is not None:
                instants.update(base + timedelta(seconds=s) for s, _ in profile.periods)
                if profile.duration_s is not None:
                    instants.add(base + timedelta(seconds=profile.duration_s))
            if profile.valid_to is not None:
                instants.add(profile.valid_to)
        end = now + timedelta(seconds=duration_s)
        periods: list[tuple[int, float]] = []
        for at in sorted(t for t in instants if now <= t < end):
            limit = self.limit_at(at)
            if not periods or periods[-1][1] != limit:
                periods.append((int((at - now).total_seconds()), limit))
        return now, periods

    def store(self, profile: Profile) -> bool:
        if profile.purpose == "TxProfile":
            if profile.transaction_id is None:
                profile.transaction_id = self.transaction_id
            if self.transaction_id is None or profile.transaction_id != self.transaction_id:
                return False
        self.profiles[profile.profile_id] = profile
        self.changed.set()
        return True


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class Station16(Cp16):  # type: ignore[misc]
    """An OCPP 1.6J station. `reject_profiles` = "all" | "default" | None; `max_periods` is
    its ChargingScheduleMaxPeriods (enforced on SetChargingProfile too)."""

    def __init__(self, station_id: str, ws: ClientConnection, clock: Any,
                 reject_profiles: str | None = None, max_periods: int = 24) -> None:
        super().__init__(station_id, ws, response_timeout=5)
        self.max_periods = max_periods
        self.smart = SmartCharging(clock)
        self.clock = clock
        self.reject_profiles = reject_profiles
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.transaction_event = asyncio.Event()

    async def boot(self) -> Any:
        return await self.call(call16.BootNotification(
            charge_point_vendor="LabVendor", charge_point_model="Lab16"), suppress=False)

    async def heartbeat(self) -> Any:
        return await self.call(call16.Heartbeat(), suppress=False)

    async def send_status(self, status: str) -> None:
        await self.call(call16.StatusNotification(
            connector_id=1, error_code=enums16.ChargePointErrorCode.no_error, status=status),
            suppress=False)

    async def send_meter(self, energy_wh: float, power_w: float, at: datetime,
                         transaction_id: int | None = None) -> None:
        await self.call(call16.MeterValues(connector_id=1, transaction_id=transaction_id,
                                           meter_value=[{
            "timestamp": _iso(at),
            "sampled_value": [
                {"value": f"{energy_wh:.0f}", "measurand": "Energy.Active.Import.Register",
                 "unit": "Wh"},
                {"value": f"{power_w:.0f}", "measurand": "Power.Active.Import", "unit": "W"},
                {"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
            ],
        }]), suppress=False)

    @on(enums16.Action.set_charging_profile)
    async def on_set_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any],
                             **_: Any):
        await self.smart.transaction_known()
        return self._set_profile(connector_id, cs_charging_profiles)

    def _set_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> Any:
        self.requests.append(("SetChargingProfile", cs_charging_profiles))
        p = cs_charging_profiles
        purpose = p["charging_profile_purpose"]
        if self.reject_profiles == "all" or (
            self.reject_profiles == "default" and purpose == "TxDefaultProfile"
        ):
            return result16.SetChargingProfile(status="Rejected")
        schedule = p["charging_schedule"]
        if len(schedule["charging_schedule_period"]) > self.max_periods:
            return result16.SetChargingProfile(status="Rejected")
        profile = Profile(
            profile_id=p["charging_profile_id"], purpose=purpose,
            kind=p["charging_profile_kind"], stack_level=p["stack_level"],
            periods=[(int(x["start_period"]), float(x["limit"]))
                     for x in schedule["charging_schedule_period"]],
            start=_parse(schedule["start_schedule"]) if schedule.get("start_schedule") else None,
            duration_s=schedule.get("duration"),
            valid_to=_parse(p["valid_to"]) if p.get("valid_to") else None,
            transaction_id=str(p["transaction_id"]) if p.get("transaction_id") else None,
            connector=connector_id, raw=p,
        )
        accepted = self.smart.store(profile)
        return result16.SetChargingProfile(status="Accepted" if accepted else "Rejected")

    @on(enums16.Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None, **_: Any):
        self.requests.append(("GetConfiguration", {"key": key}))
        known = {"ChargingScheduleMaxPeriods": str(self.max_periods),
                 "ChargingScheduleAllowedChargingRateUnit": "Current,Power"}
        asked = key or list(known)
        return result16.GetConfiguration(
            configuration_key=[{"key": k, "readonly": True, "value": known[k]}
                               for k in asked if k in known],
            unknown_key=[k for k in asked if k not in known] or None)

    @on(enums16.Action.get_composite_schedule)
    def on_composite(self, connector_id: int, duration: int, **_: Any):
        self.requests.append(("GetCompositeSchedule", {"duration": duration}))
        start, periods = self.smart.composite(duration)
        return result16.GetCompositeSchedule(
            status="Accepted", connector_id=connector_id, schedule_start=_iso(start),
            charging_schedule={
                "chargingRateUnit": "A", "duration": duration, "startSchedule": _iso(start),
                "chargingSchedulePeriod": [
                    {"startPeriod": s, "limit": round(limit, 1)} for s, limit in periods],
            },
        )

    @on(enums16.Action.remote_start_transaction)
    def on_remote_start(self, id_tag: str, **kwargs: Any):
        self.requests.append(("RemoteStartTransaction", {"id_tag": id_tag, **kwargs}))
        return result16.RemoteStartTransaction(status="Accepted")

    @after(enums16.Action.remote_start_transaction)
    async def after_remote_start(self, id_tag: str, **kwargs: Any) -> None:
        self.smart.start_pending = asyncio.Event()
        result = await self.call(call16.StartTransaction(
            connector_id=1, id_tag=id_tag, meter_start=1000, timestamp=_iso(self.clock.now())),
            suppress=False)
        self.smart.transaction_id = str(result.transaction_id)
        self.smart.transaction_start = self.clock.now()
        self.smart.start_pending.set()
        self.smart.start_pending = None
        profile = kwargs.get("charging_profile")
        if profile:
            self._set_profile(1, profile)
        await self.send_status("Charging")
        self.transaction_event.set()

    @on(enums16.Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id: int):
        self.requests.append(("RemoteStopTransaction", {"transaction_id": transaction_id}))
        ok = str(transaction_id) == self.smart.transaction_id
        return result16.RemoteStopTransaction(status="Accepted" if ok else "Rejected")

    @after(enums16.Action.remote_stop_transaction)
    async def after_remote_stop(self, transaction_id: int) -> None:
        if str(transaction_id) != self.smart.transaction_id:
            return
        await self.call(call16.StopTransaction(
            meter_stop=5000, timestamp=_iso(self.clock.now()), transaction_id=transaction_id),
            suppress=False)
        self.smart.transaction_id = None
        self.smart.profiles = {k: v for k, v in self.smart.profiles.items()
                               if v.purpose != "TxProfile"}
        await self.send_status("Finishing")
        self.transaction_event.set()


class Station201(Cp201):  # type: ignore[misc]
    """An OCPP 2.0.1 charging station with one EVSE."""

    def __init__(self, station_id: str, ws: ClientConnection, clock: Any,
                 reject_profiles: str | None = None, ongoing: str | None = None,
                 confirm_stop: bool = True) -> None:
        """`ongoing`: a transaction that was running before this connection (a station that
        reconnects); `confirm_stop=False`: accepts RequestStopTransaction but never ends it."""
        super().__init__(station_id, ws, response_timeout=5)
        self.smart = SmartCharging(clock)
        self.clock = clock
        self.reject_profiles = reject_profiles
        self.confirm_stop = confirm_stop
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.transaction_event = asyncio.Event()
        self._seq = 0
        if ongoing is not None:
            self.smart.transaction_id = ongoing
            self.smart.transaction_start = clock.now()

    async def boot(self) -> Any:
        return await self.call(call201.BootNotification(
            charging_station={"vendor_name": "LabVendor", "model": "Lab201"},
            reason="PowerUp"), suppress=False)

    async def heartbeat(self) -> Any:
        return await self.call(call201.Heartbeat(), suppress=False)

    async def send_status(self, status: str) -> None:
        await self.call(call201.StatusNotification(
            timestamp=_iso(self.clock.now()), connector_status=status, evse_id=1,
            connector_id=1), suppress=False)

    async def send_meter(self, energy_wh: float, power_w: float, at: datetime) -> None:
        await self.call(call201.MeterValues(evse_id=1, meter_value=[{
            "timestamp": _iso(at),
            "sampled_value": [
                {"value": energy_wh / 1000, "measurand": "Energy.Active.Import.Register",
                 "unit_of_measure": {"unit": "kWh"}},
                {"value": power_w, "measurand": "Power.Active.Import",
                 "unit_of_measure": {"unit": "W"}},
            ],
        }]), suppress=False)

    async def _transaction_event(self, event_type: str, reason: str, state: str) -> None:
        self._seq += 1
        await self.call(call201.TransactionEvent(
            event_type=event_type, timestamp=_iso(self.clock.now()), trigger_reason=reason,
            seq_no=self._seq,
            transaction_info={"transaction_id": self.smart.transaction_id or "",
                              "charging_state": state},
            evse={"id": 1, "connector_id": 1},
            meter_value=[{"timestamp": _iso(self.clock.now()), "sampled_value": [
                {"value": 1000.0 if event_type == "Started" else 5000.0,
                 "measurand": "Energy.Active.Import.Register"}]}],
        ), suppress=False)

    def _store(self, evse_id: int, p: dict[str, Any]) -> bool:
        purpose = p["charging_profile_purpose"]
        self.requests.append(("SetChargingProfile", p))
        if self.reject_profiles == "all" or (
            self.reject_profiles == "default" and purpose == "TxDefaultProfile"
        ):
            return False
        schedule = p["charging_schedule"][0]
        return self.smart.store(Profile(
            profile_id=p["id"], purpose=purpose, kind=p["charging_profile_kind"],
            stack_level=p["stack_level"],
            periods=[(int(x["start_period"]), float(x["limit"]))
                     for x in schedule["charging_schedule_period"]],
            start=_parse(schedule["start_schedule"]) if schedule.get("start_schedule") else None,
            duration_s=schedule.get("duration"),
            valid_to=_parse(p["valid_to"]) if p.get("valid_to") else None,
            transaction_id=p.get("transaction_id"), connector=evse_id, raw=p,
        ))

    @on(enums201.Action.set_charging_profile)
    async def on_set_profile(self, evse_id: int, charging_profile: dict[str, Any], **_: Any):
        await self.smart.transaction_known()
        accepted = self._store(evse_id, charging_profile)
        return result201.SetChargingProfile(status="Accepted" if accepted else "Rejected")

    @on(enums201.Action.get_composite_schedule)
    def on_composite(self, duration: int, evse_id: int, **_: Any):
        self.requests.append(("GetCompositeSchedule", {"duration": duration}))
        start, periods = self.smart.composite(duration)
        return result201.GetCompositeSchedule(status="Accepted", schedule={
            "evse_id": evse_id, "duration": duration, "schedule_start": _iso(start),
            "charging_rate_unit": "A",
            "charging_schedule_period": [{"start_period": s, "limit": limit}
                                         for s, limit in periods],
        })

    @on(enums201.Action.request_start_transaction)
    def on_remote_start(self, id_token: dict[str, Any], remote_start_id: int, **kwargs: Any):
        self.requests.append(("RequestStartTransaction", {"id_token": id_token, **kwargs}))
        return result201.RequestStartTransaction(status="Accepted")

    @after(enums201.Action.request_start_transaction)
    async def after_remote_start(self, id_token: dict[str, Any], remote_start_id: int,
                                 **kwargs: Any) -> None:
        self.smart.transaction_id = f"tx-{remote_start_id}"
        self.smart.transaction_start = self.clock.now()
        if kwargs.get("charging_profile"):
            self._store(1, kwargs["charging_profile"])
        await self._transaction_event("Started", "RemoteStart", "Charging")
        self.transaction_event.set()

    @on(enums201.Action.request_stop_transaction)
    def on_remote_stop(self, transaction_id: str, **_: Any):
        self.requests.append(("RequestStopTransaction", {"transaction_id": transaction_id}))
        ok = transaction_id == self.smart.transaction_id
        return result201.RequestStopTransaction(status="Accepted" if ok else "Rejected")

    @on(enums201.Action.trigger_message)
    def on_trigger(self, requested_message: str, **kwargs: Any):
        self.requests.append(("TriggerMessage", {"requested_message": requested_message,
                                                 **kwargs}))
        known = requested_message == "TransactionEvent" and self.smart.transaction_id
        return result201.TriggerMessage(status="Accepted" if known else "Rejected")

    @after(enums201.Action.trigger_message)
    async def after_trigger(self, requested_message: str, **_: Any) -> None:
        if requested_message == "TransactionEvent" and self.smart.transaction_id:
            await self._transaction_event("Updated", "Trigger", "Charging")

    @on(enums201.Action.get_transaction_status)
    def on_transaction_status(self, transaction_id: str | None = None, **_: Any):
        self.requests.append(("GetTransactionStatus", {"transaction_id": transaction_id}))
        ongoing = transaction_id is not None and transaction_id == self.smart.transaction_id
        return result201.GetTransactionStatus(
            messages_in_queue=False, ongoing_indicator=ongoing if transaction_id else None)

    @after(enums201.Action.request_stop_transaction)
    async def after_remote_stop(self, transaction_id: str, **_: Any) -> None:
        if transaction_id != self.smart.transaction_id or not self.confirm_stop:
            return
        await self._transaction_event("Ended", "RemoteStop", "EVConnected")
        self.smart.transaction_id = None
        self.smart.profiles = {k: v for k, v in self.smart.profiles.items()
                               if v.purpose != "TxProfile"}
        self.transaction_event.set()


STATIONS = {"ocpp1.6": Station16, "ocpp2.0.1": Station201}


class Connected:
    """A station connected to the central system, its receive loop running as a task."""

    def __init__(self, url: str, station_id: str, password: str, version: str, clock: Any,
                 **behaviour: Any) -> None:
        self.url = f"{url}/{station_id}"
        self.station_id = station_id
        self.password = password
        self.version = version
        self.clock = clock
        self.behaviour = behaviour

    async def __aenter__(self) -> Any:
        self.ws = await connect(self.url, subprotocols=[self.version],
                                additional_headers=basic_auth(self.station_id, self.password))
        self.station = STATIONS[self.version](self.station_id, self.ws, self.clock,
                                              **self.behaviour)
        self.task = asyncio.create_task(self.station.start())
        return self.station

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
