"""OCPP 1.6J: one `ChargePoint` per connected station, central-system side."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ocpp.v16 import ChargePoint, call, call_result, datatypes, enums

from optimizer.chargers.errors import ChargerError
from optimizer.chargers.limits import CurrentPeriod
from optimizer.chargers.ocpp_common import (
    LIVE_PROFILE_ID,
    PLAN_PROFILE_ID,
    REJECTED,
    STATUS_16,
    CompositeSchedule,
    SessionHandlers,
    SessionSettings,
    after,
    checked_call,
    iso_utc,
    on,
    parse_meter_values,
    parse_time,
)
from optimizer.events import ChargerState, MeterReading

_MAX_PERIODS_KEY = "ChargingScheduleMaxPeriods"
_transaction_ids = itertools.count(1)
"""1.6 transaction ids are integers the central system hands out; unique per process."""


class Session16(SessionHandlers, ChargePoint):  # type: ignore[misc]
    _heartbeat_result = call_result.Heartbeat
    limit_decimals: int | None = 1

    def __init__(self, station_id: str, connection: Any, settings: SessionSettings) -> None:
        super().__init__(station_id, connection, response_timeout=settings.response_timeout_s)
        self._settings = settings
        self._configuration_asked = False
        self._max_periods_value: int | None = None

    async def _call(self, payload: Any) -> Any:
        return await checked_call(self, payload)

    # -- requests from the station -------------------------------------------------------

    @on(enums.Action.boot_notification)
    def on_boot(self, charge_point_vendor: str, charge_point_model: str, **_: Any) -> Any:
        self._settings.events.booted(charge_point_vendor, charge_point_model)
        return call_result.BootNotification(
            current_time=iso_utc(self._settings.clock.now()),
            interval=self._settings.heartbeat_s,
            status=enums.RegistrationStatus.accepted,
        )

    @on(enums.Action.authorize)
    def on_authorize(self, id_tag: str, **_: Any) -> Any:
        return call_result.Authorize(id_tag_info={"status": enums.AuthorizationStatus.accepted})

    @on(enums.Action.status_notification)
    def on_status(self, connector_id: int, error_code: str, status: str, **_: Any) -> Any:
        mine = connector_id == self._settings.connector_id
        if mine or (connector_id == 0 and status == "Faulted"):
            state = STATUS_16.get(status, ChargerState.UNKNOWN)
            details = {"status": status, "error_code": error_code}
            self._settings.events.status_changed(state, details)
        return call_result.StatusNotification()

    @after(enums.Action.status_notification)
    def after_status(self, **_: Any) -> None:
        self._settings.events.session_ready(self)

    @on(enums.Action.meter_values)
    def on_meter_values(
        self, connector_id: int, meter_value: list[Any], transaction_id: int | None = None,
        **_: Any,
    ) -> Any:
        if connector_id in (0, self._settings.connector_id):
            now = self._settings.clock.now()
            self._settings.events.meter(parse_meter_values(self.id, meter_value, now))
        if connector_id == self._settings.connector_id and transaction_id is not None:
            # A transaction that started before we (re)started is learnt from its meter values.
            self._settings.events.transaction_seen(str(transaction_id))
        return call_result.MeterValues()

    @on(enums.Action.start_transaction)
    def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **_: Any
    ) -> Any:
        transaction_id = next(_transaction_ids)
        if connector_id == self._settings.connector_id:
            self._energy(meter_start, timestamp)
            self._settings.events.transaction_changed(str(transaction_id))
        return call_result.StartTransaction(
            transaction_id=transaction_id,
            id_tag_info={"status": enums.AuthorizationStatus.accepted},
        )

    @on(enums.Action.stop_transaction)
    def on_stop_transaction(
        self, meter_stop: int, timestamp: str, transaction_id: int, **_: Any
    ) -> Any:
        self._energy(meter_stop, timestamp)
        self._settings.events.transaction_changed(None)
        return call_result.StopTransaction()

    def _energy(self, meter_wh: int, timestamp: str) -> None:
        at = parse_time(timestamp, self._settings.clock.now())
        self._settings.events.meter([MeterReading(self.id, at, energy_kwh=meter_wh / 1000.0)])

    # -- requests to the station ---------------------------------------------------------

    def _schedule(
        self, periods: Sequence[CurrentPeriod], start: datetime, end: datetime
    ) -> datatypes.ChargingSchedule:
        return datatypes.ChargingSchedule(
            charging_rate_unit=enums.ChargingRateUnitType.amps,
            charging_schedule_period=[
                datatypes.ChargingSchedulePeriod(
                    start_period=int((p.start - start).total_seconds()),
                    limit=round(p.current_a, 1),
                    number_phases=self._settings.phases,
                )
                for p in periods
            ],
            duration=int((end - start).total_seconds()),
            start_schedule=iso_utc(start),
        )

    async def _max_periods(self) -> int | None:
        """`ChargingScheduleMaxPeriods` from GetConfiguration, asked once per connection.

        Boxes that do not implement GetConfiguration are simply tried: a profile they cannot
        hold is rejected, and the plan is then followed live.
        """
        if not self._configuration_asked:
            self._configuration_asked = True
            try:
                result = await self._call(call.GetConfiguration(key=[_MAX_PERIODS_KEY]))
            except ChargerError:
                return None
            for item in result.configuration_key or ():
                if item.get("key") == _MAX_PERIODS_KEY and str(item.get("value")).isdigit():
                    self._max_periods_value = int(item["value"])
        return self._max_periods_value

    async def set_default_profile(
        self, periods: Sequence[CurrentPeriod], valid_to: datetime
    ) -> str | None:
        max_periods = await self._max_periods()
        if max_periods is not None and len(periods) > max_periods:
            return (f"the station holds at most {max_periods} schedule periods and the plan "
                    f"needs {len(periods)}")
        start = periods[0].start
        profile = datatypes.ChargingProfile(
            charging_profile_id=PLAN_PROFILE_ID,
            stack_level=0,
            charging_profile_purpose=enums.ChargingProfilePurposeType.tx_default_profile,
            charging_profile_kind=enums.ChargingProfileKindType.absolute,
            charging_schedule=self._schedule(periods, start, valid_to),
            valid_to=iso_utc(valid_to),
        )
        result = await self._call(
            call.SetChargingProfile(connector_id=0, cs_charging_profiles=profile)
        )
        return None if result.status == enums.ChargingProfileStatus.accepted else REJECTED

    def _live_profile(self, current_a: float, transaction_id: int | None) -> Any:
        return datatypes.ChargingProfile(
            charging_profile_id=LIVE_PROFILE_ID,
            stack_level=1,
            charging_profile_purpose=enums.ChargingProfilePurposeType.tx_profile,
            charging_profile_kind=enums.ChargingProfileKindType.relative,
            transaction_id=transaction_id,
            charging_schedule=datatypes.ChargingSchedule(
                charging_rate_unit=enums.ChargingRateUnitType.amps,
                charging_schedule_period=[
                    datatypes.ChargingSchedulePeriod(
                        start_period=0,
                        limit=round(current_a, 1),
                        number_phases=self._settings.phases,
                    )
                ],
            ),
        )

    async def set_live_limit(self, current_a: float, transaction_id: str) -> bool:
        result = await self._call(
            call.SetChargingProfile(
                connector_id=self._settings.connector_id,
                cs_charging_profiles=self._live_profile(current_a, int(transaction_id)),
            )
        )
        return bool(result.status == enums.ChargingProfileStatus.accepted)

    async def composite_schedule(self, duration_s: int) -> CompositeSchedule | None:
        result = await self._call(
            call.GetCompositeSchedule(
                connector_id=self._settings.connector_id,
                duration=duration_s,
                charging_rate_unit=enums.ChargingRateUnitType.amps,
            )
        )
        if result.status != enums.GetCompositeScheduleStatus.accepted:
            return None
        schedule = result.charging_schedule or {}
        start = parse_time(result.schedule_start or schedule.get("start_schedule"),
                           self._settings.clock.now())
        return CompositeSchedule(
            start=start,
            duration_s=int(schedule.get("duration") or duration_s),
            periods=tuple(
                (int(p["start_period"]), float(p["limit"]))
                for p in schedule.get("charging_schedule_period", ())
            ),
        )

    async def remote_start(self, current_a: float | None) -> bool:
        profile = None if current_a is None else self._live_profile(current_a, None)
        result = await self._call(
            call.RemoteStartTransaction(
                id_tag=self._settings.id_tag,
                connector_id=self._settings.connector_id,
                charging_profile=profile,
            )
        )
        return bool(result.status == enums.RemoteStartStopStatus.accepted)

    async def remote_stop(self, transaction_id: str) -> bool:
        result = await self._call(call.RemoteStopTransaction(transaction_id=int(transaction_id)))
        return bool(result.status == enums.RemoteStartStopStatus.accepted)

    async def request_transaction(self) -> bool:
        # 1.6 cannot trigger a StartTransaction; the id comes with the next MeterValues.
        return False

