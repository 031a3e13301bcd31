"""OCPP 2.0.1: one `ChargePoint` per connected station, CSMS side."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ocpp.v201 import ChargePoint, call, call_result, datatypes, enums
from websockets.exceptions import ConnectionClosed

from optimizer.chargers.errors import ChargerError
from optimizer.chargers.limits import CurrentPeriod
from optimizer.chargers.ocpp_common import (
    CHARGING_STATE_201,
    CONNECTOR_STATUS_201,
    LIVE_PROFILE_ID,
    PLAN_PROFILE_ID,
    REJECTED,
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
from optimizer.events import ChargerState

log = logging.getLogger(__name__)

_remote_start_ids = itertools.count(1)
_ACCEPTED = {"status": enums.AuthorizationStatusEnumType.accepted}


class Session201(SessionHandlers, ChargePoint):  # type: ignore[misc]
    _heartbeat_result = call_result.Heartbeat
    limit_decimals: int | None = None

    def __init__(self, station_id: str, connection: Any, settings: SessionSettings) -> None:
        super().__init__(station_id, connection, response_timeout=settings.response_timeout_s)
        self._settings = settings
        self._transaction_seen = False
        """A TransactionEvent for our EVSE arrived on this connection."""

    # -- requests from the station -------------------------------------------------------

    @on(enums.Action.boot_notification)
    def on_boot(self, charging_station: dict[str, Any], reason: str, **_: Any) -> Any:
        self._settings.events.booted(
            str(charging_station.get("vendor_name")), str(charging_station.get("model"))
        )
        return call_result.BootNotification(
            current_time=iso_utc(self._settings.clock.now()),
            interval=self._settings.heartbeat_s,
            status=enums.RegistrationStatusEnumType.accepted,
        )

    @on(enums.Action.authorize)
    def on_authorize(self, id_token: dict[str, Any], **_: Any) -> Any:
        return call_result.Authorize(id_token_info=_ACCEPTED)

    @on(enums.Action.status_notification)
    def on_status(
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **_: Any
    ) -> Any:
        if evse_id == self._settings.connector_id:
            if connector_status == enums.ConnectorStatusEnumType.occupied:
                self._settings.events.occupied({"status": connector_status})
            else:
                state = CONNECTOR_STATUS_201.get(connector_status, ChargerState.UNKNOWN)
                self._settings.events.status_changed(state, {"status": connector_status})
        return call_result.StatusNotification()

    @after(enums.Action.status_notification)
    async def after_status(self, connector_status: str, evse_id: int, **_: Any) -> None:
        self._settings.events.session_ready(self)
        occupied = connector_status == enums.ConnectorStatusEnumType.occupied
        if occupied and evse_id == self._settings.connector_id and not self._transaction_seen:
            # A reconnecting station may say Occupied before its queued TransactionEvents:
            # ask for the transaction now, so status and stop do not wait for the queue.
            try:
                await self.request_transaction()
            except (ChargerError, ConnectionClosed) as exc:
                log.warning("OCPP: station '%s': could not ask for its transaction: %s",
                            self.id, exc)

    @on(enums.Action.meter_values)
    def on_meter_values(self, evse_id: int, meter_value: list[Any], **_: Any) -> Any:
        if evse_id in (0, self._settings.connector_id):
            now = self._settings.clock.now()
            self._settings.events.meter(parse_meter_values(self.id, meter_value, now))
        return call_result.MeterValues()

    @on(enums.Action.transaction_event)
    def on_transaction_event(
        self,
        event_type: str,
        timestamp: str,
        trigger_reason: str,
        seq_no: int,
        transaction_info: dict[str, Any],
        **kwargs: Any,
    ) -> Any:
        evse = kwargs.get("evse") or {}
        if evse.get("id", self._settings.connector_id) == self._settings.connector_id:
            self._transaction_seen = True
            received_at = parse_time(timestamp, self._settings.clock.now())
            self._settings.events.meter(
                parse_meter_values(self.id, kwargs.get("meter_value") or [], received_at)
            )
            ended = event_type == enums.TransactionEventEnumType.ended
            transaction = None if ended else transaction_info["transaction_id"]
            self._settings.events.transaction_changed(transaction)
            charging_state = str(transaction_info.get("charging_state"))
            if ended:
                self._settings.events.status_changed(ChargerState.PLUGGED, {"charging_state": None})
            elif charging_state in CHARGING_STATE_201:
                self._settings.events.status_changed(
                    CHARGING_STATE_201[charging_state], {"charging_state": charging_state}
                )
        return call_result.TransactionEvent(
            id_token_info=_ACCEPTED if kwargs.get("id_token") else None
        )

    # -- requests to the station ---------------------------------------------------------

    def _profile(
        self,
        profile_id: int,
        purpose: enums.ChargingProfilePurposeEnumType,
        kind: enums.ChargingProfileKindEnumType,
        periods: Sequence[tuple[int, float]],
        *,
        start: datetime | None = None,
        duration_s: int | None = None,
        valid_to: datetime | None = None,
        transaction_id: str | None = None,
    ) -> datatypes.ChargingProfileType:
        return datatypes.ChargingProfileType(
            id=profile_id,
            stack_level=0 if profile_id == PLAN_PROFILE_ID else 1,
            charging_profile_purpose=purpose,
            charging_profile_kind=kind,
            charging_schedule=[
                datatypes.ChargingScheduleType(
                    id=profile_id,
                    charging_rate_unit=enums.ChargingRateUnitEnumType.amps,
                    charging_schedule_period=[
                        datatypes.ChargingSchedulePeriodType(
                            start_period=offset_s,
                            limit=limit_a,
                            number_phases=self._settings.phases,
                        )
                        for offset_s, limit_a in periods
                    ],
                    start_schedule=None if start is None else iso_utc(start),
                    duration=duration_s,
                )
            ],
            valid_to=None if valid_to is None else iso_utc(valid_to),
            transaction_id=transaction_id,
        )

    async def set_default_profile(
        self, periods: Sequence[CurrentPeriod], valid_to: datetime
    ) -> str | None:
        start = periods[0].start
        profile = self._profile(
            PLAN_PROFILE_ID,
            enums.ChargingProfilePurposeEnumType.tx_default_profile,
            enums.ChargingProfileKindEnumType.absolute,
            [(int((p.start - start).total_seconds()), p.current_a) for p in periods],
            start=start,
            duration_s=int((valid_to - start).total_seconds()),
            valid_to=valid_to,
        )
        result = await checked_call(
            self, call.SetChargingProfile(evse_id=0, charging_profile=profile)
        )
        return None if result.status == enums.ChargingProfileStatusEnumType.accepted else REJECTED

    def _live_profile(
        self, current_a: float, transaction_id: str | None
    ) -> datatypes.ChargingProfileType:
        return self._profile(
            LIVE_PROFILE_ID,
            enums.ChargingProfilePurposeEnumType.tx_profile,
            enums.ChargingProfileKindEnumType.relative,
            [(0, current_a)],
            transaction_id=transaction_id,
        )

    async def set_live_limit(self, current_a: float, transaction_id: str) -> bool:
        result = await checked_call(
            self,
            call.SetChargingProfile(
                evse_id=self._settings.connector_id,
                charging_profile=self._live_profile(current_a, transaction_id),
            ),
        )
        return bool(result.status == enums.ChargingProfileStatusEnumType.accepted)

    async def composite_schedule(self, duration_s: int) -> CompositeSchedule | None:
        result = await checked_call(
            self,
            call.GetCompositeSchedule(
                duration=duration_s,
                evse_id=self._settings.connector_id,
                charging_rate_unit=enums.ChargingRateUnitEnumType.amps,
            ),
        )
        if result.status != enums.GenericStatusEnumType.accepted or not result.schedule:
            return None
        schedule = result.schedule
        return CompositeSchedule(
            start=parse_time(schedule["schedule_start"], self._settings.clock.now()),
            duration_s=int(schedule["duration"]),
            periods=tuple(
                (int(p["start_period"]), float(p["limit"]))
                for p in schedule["charging_schedule_period"]
            ),
        )

    async def remote_start(self, current_a: float | None) -> bool:
        result = await checked_call(
            self,
            call.RequestStartTransaction(
                id_token=datatypes.IdTokenType(
                    id_token=self._settings.id_tag, type=enums.IdTokenEnumType.central
                ),
                remote_start_id=next(_remote_start_ids),
                evse_id=self._settings.connector_id,
                charging_profile=None if current_a is None else self._live_profile(current_a, None),
            ),
        )
        return bool(result.status == enums.RequestStartStopStatusEnumType.accepted)

    async def remote_stop(self, transaction_id: str) -> bool:
        result = await checked_call(
            self, call.RequestStopTransaction(transaction_id=transaction_id)
        )
        return bool(result.status == enums.RequestStartStopStatusEnumType.accepted)

    async def request_transaction(self) -> bool:
        evse = datatypes.EVSEType(id=self._settings.connector_id)
        triggered = await checked_call(self, call.TriggerMessage(
            requested_message=enums.MessageTriggerEnumType.transaction_event, evse=evse))
        if triggered.status == enums.TriggerMessageStatusEnumType.accepted:
            return True
        status = await checked_call(self, call.GetTransactionStatus())
        return bool(status.messages_in_queue)
