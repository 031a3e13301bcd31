"""One OCPP station as the rest of the service sees it: a `Charger`, a `ScheduleCharger` and a
`MeterSource`, whichever protocol version it speaks and whether or not it is connected now.

The plan is handed to the station as an absolute TxDefaultProfile with `validTo`, so the station
keeps following it even if this service dies, and returns to its own default at the plan's end
instead of holding a stale limit forever. It is checked with
GetCompositeSchedule and re-sent on every new connection. A station that rejects the profile, or
whose composite schedule does not match, is driven slot by slot instead (`tick`): remote
start/stop plus a TxProfile limit for the running transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from optimizer.chargers.errors import ChargerError
from optimizer.chargers.limits import CurrentPeriod, CurrentRange, current_at, plan_periods
from optimizer.chargers.meter import MeterFeed
from optimizer.chargers.ocpp_common import CompositeSchedule, OcppSession
from optimizer.events import ChargerState, ChargerStatus, MeterReading
from optimizer.model import ChargePlan
from optimizer.ports import Clock

log = logging.getLogger(__name__)

Mode = Literal["none", "schedule", "live"]
_LIMIT_TOLERANCE_A = 1e-6


def schedule_matches(periods: Sequence[CurrentPeriod], composite: CompositeSchedule) -> bool:
    """True when the station's composite schedule gives the plan's limit at every boundary of
    either schedule inside the composite window (stations may split or merge periods)."""
    window_end = composite.start.timestamp() + composite.duration_s
    if periods:  # past the plan's end the station is back on its own default, as intended
        window_end = min(window_end, periods[-1].end.timestamp())
    instants = {composite.start}
    instants.update(composite.start + timedelta(seconds=s) for s, _ in composite.periods)
    for period in periods:
        instants.update((period.start, period.end))
    for at in sorted(instants):
        if not composite.start <= at or at.timestamp() >= window_end:
            continue
        got = composite.limit_at(at)
        if got is None or abs(got - current_at(periods, at)) > _LIMIT_TOLERANCE_A:
            return False
    return True


class OcppCharger:
    def __init__(
        self,
        name: str,
        station_id: str,
        password: str,
        limits: CurrentRange,
        clock: Clock,
        *,
        connector_id: int = 1,
        id_tag: str = "ev-optimizer",
        wait_timeout_s: float = 30.0,
    ) -> None:
        if not password:
            raise ValueError(f"station '{station_id}' needs a password: it can start charging")
        self.name = name
        self.station_id = station_id
        self.password = password.encode()
        self.limits = limits
        self.connector_id = connector_id
        self.id_tag = id_tag
        self._clock = clock
        self._wait_timeout_s = wait_timeout_s
        self._session: OcppSession | None = None
        self._synced: OcppSession | None = None
        self._plan: ChargePlan | None = None
        self._periods: list[CurrentPeriod] = []
        self._live_limit_a: float | None = None
        self.mode: Mode = "none"
        self.schedule_verified = False
        self.last_error: str | None = None
        self.boot_count = 0
        self._state = ChargerState.UNKNOWN
        self._details: dict[str, Any] = {}
        self._transaction_id: str | None = None
        self._last_power_kw: float | None = None
        self._last_energy_kwh: float | None = None
        self._feed = MeterFeed()
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- connection bookkeeping (called by the central system) ---------------------------

    def attach(self, session: OcppSession) -> None:
        self._session = session
        self._synced = None
        self._notify()

    def detach(self, session: OcppSession) -> None:
        if self._session is session:
            self._session = None
            self._notify()

    @property
    def connected(self) -> bool:
        return self._session is not None

    @property
    def ready(self) -> bool:
        """Connected and the station has sent its first message on this connection."""
        return self._session is not None and self._synced is self._session

    # -- SessionEvents -------------------------------------------------------------------

    def session_ready(self, session: OcppSession) -> None:
        """First message of a connection: (re-)send the plan, once per connection."""
        if self._synced is session or session is not self._session:
            return
        self._synced = session
        self._notify()
        if self._plan is not None:
            task = asyncio.get_running_loop().create_task(self._sync_in_background(session))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def booted(self, vendor: str, model: str) -> None:
        self.boot_count += 1
        self._details.update(vendor=vendor, model=model)
        self._notify()

    def status_changed(self, state: ChargerState, details: Mapping[str, Any]) -> None:
        self._state = state
        self._details.update(details)
        self._notify()

    def transaction_changed(self, transaction_id: str | None) -> None:
        self._transaction_id = transaction_id
        if transaction_id is None:
            self._live_limit_a = None
        self._notify()

    def transaction_seen(self, transaction_id: str) -> None:
        if self._transaction_id is None:
            self.transaction_changed(transaction_id)

    def occupied(self, details: Mapping[str, Any]) -> None:
        if self._state not in (ChargerState.CHARGING, ChargerState.PLUGGED):
            self._state = ChargerState.PLUGGED
        self._details.update(details)
        self._notify()

    def meter(self, readings: Sequence[MeterReading]) -> None:
        for reading in readings:
            named = MeterReading(self.name, reading.measured_at, reading.energy_kwh,
                                 reading.power_kw)
            if named.power_kw is not None:
                self._last_power_kw = named.power_kw
            if named.energy_kwh is not None:
                self._last_energy_kwh = named.energy_kwh
            self._feed.publish(named)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], bool], timeout_s: float | None = None,
                         what: str = "the station") -> None:
        """Wait for a state change (connection, transaction...) instead of polling or sleeping."""
        try:
            async with asyncio.timeout(timeout_s or self._wait_timeout_s):
                while not predicate():
                    await self._changed.wait()
        except TimeoutError:
            raise ChargerError(
                f"charger '{self.name}': timed out waiting for {what} "
                f"(station '{self.station_id}')"
            ) from None

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        await self.wait_until(lambda: self.connected, timeout_s,
                              "the station to connect to the central system")

    def _require_session(self) -> OcppSession:
        if self._session is None:
            raise ChargerError(
                f"charger '{self.name}': station '{self.station_id}' is not connected; check "
                f"that the wallbox's central-system URL points at /ocpp/{self.station_id}"
            )
        return self._session

    @property
    def state(self) -> ChargerState:
        """The connector's last reported state (UNKNOWN while disconnected), for watchers."""
        return self._state if self.connected else ChargerState.UNKNOWN

    @property
    def transaction_id(self) -> str | None:
        return self._transaction_id

    # -- Charger -------------------------------------------------------------------------

    async def start(self) -> None:
        session = self._require_session()
        if self._transaction_id is None and not await session.remote_start(None):
            raise ChargerError(f"charger '{self.name}': the station rejected the remote start")

    async def stop(self) -> None:
        """Stop the running transaction and return once the station has ended it.

        Without a known transaction id (a station that reconnected and said `Occupied`
        before its queued TransactionEvents), the station is asked for its transaction
        first; "nothing to stop" is only concluded when it says there is none.
        """
        session = self._require_session()
        if self._transaction_id is None and await session.request_transaction():
            await self.wait_until(lambda: self._transaction_id is not None,
                                  what="the station to report its running transaction")
        transaction_id = self._transaction_id
        if transaction_id is None:
            if self._state is ChargerState.CHARGING:
                raise ChargerError(
                    f"charger '{self.name}': the station is charging in a transaction that "
                    f"started before this connection; its id arrives with the next meter "
                    f"values, try again then"
                )
            return
        if not await session.remote_stop(transaction_id):
            raise ChargerError(f"charger '{self.name}': the station rejected the remote stop")
        await self.wait_until(lambda: self._transaction_id != transaction_id,
                              what=f"the station to end transaction {transaction_id} (it "
                                   f"accepted the stop but has not confirmed it)")

    async def set_current_limit(self, current_a: float) -> None:
        current_a = self.limits.clamp_a(current_a)
        if current_a == 0:
            await self.stop()
            return
        session = self._require_session()
        if self._transaction_id is None:
            if not await session.remote_start(current_a):
                raise ChargerError(f"charger '{self.name}': the station rejected the remote start")
        elif not await session.set_live_limit(current_a, self._transaction_id):
            raise ChargerError(
                f"charger '{self.name}': the station rejected a {current_a:g} A limit"
            )
        self._live_limit_a = current_a

    async def status(self) -> ChargerStatus:
        now = self._clock.now()
        planned = current_at(self._periods, now) if self._periods else None
        return ChargerStatus(
            state=self._state if self.connected else ChargerState.UNKNOWN,
            power_kw=self._last_power_kw,
            energy_kwh=self._last_energy_kwh,
            current_limit_a=self._live_limit_a if self._live_limit_a is not None else planned,
            details={
                "station_id": self.station_id,
                "connected": self.connected,
                "mode": self.mode,
                "schedule_verified": self.schedule_verified,
                "transaction_id": self._transaction_id,
                "last_error": self.last_error,
                **self._details,
            },
        )

    # -- ScheduleCharger -----------------------------------------------------------------

    async def apply_plan(self, plan: ChargePlan) -> None:
        """Send the plan now if the station is connected, else on its next connection."""
        self._plan = plan
        if self._session is not None:
            self._synced = self._session
            await self._sync(self._session)

    async def _sync_in_background(self, session: OcppSession) -> None:
        try:
            await self._sync(session)
        except ChargerError as exc:
            self.last_error = str(exc)
            log.warning("%s", exc)

    async def _sync(self, session: OcppSession) -> None:
        if self._plan is None:
            return
        now = self._clock.now()
        periods = plan_periods(self._plan, self.limits, decimals=session.limit_decimals)
        self._periods = periods
        if not periods or periods[-1].end <= now:
            self.mode = "none"
            return
        valid_to = periods[-1].end
        self.schedule_verified = False
        problem = await session.set_default_profile(periods, valid_to)
        if problem is None:
            composite = await session.composite_schedule(int((valid_to - now).total_seconds()))
            self.schedule_verified = composite is not None and schedule_matches(periods, composite)
            if not self.schedule_verified:
                problem = "the station's composite schedule does not match the plan"
        self.last_error = problem
        if problem is not None:
            log.warning("charger '%s': %s; following the plan live", self.name, problem)
        self.mode = "schedule" if self.schedule_verified else "live"
        self._notify()
        await self.tick(now)

    async def tick(self, now: datetime) -> None:
        """Carry out the slot that contains `now`; the service calls this at slot boundaries.

        With a verified schedule the station limits itself, so only a plugged car without a
        transaction needs a remote start. In live mode this is the only control there is.
        """
        session = self._session
        if session is None or self.mode == "none":
            return
        target_a = current_at(self._periods, now)
        if self.mode == "schedule":
            plugged = self._state is ChargerState.PLUGGED
            if target_a > 0 and self._transaction_id is None and plugged:
                await self._remote_start(session)
            return
        if target_a == 0:
            if self._transaction_id is not None and not await session.remote_stop(
                self._transaction_id
            ):
                self.last_error = "the station rejected the remote stop"
            return
        if self._transaction_id is None:
            if not await self._remote_start(session):
                return
            await self.wait_until(lambda: self._transaction_id is not None,
                                  what="the transaction to start")
        transaction_id = self._transaction_id
        if transaction_id is not None and self._live_limit_a != target_a:
            if await session.set_live_limit(target_a, transaction_id):
                self._live_limit_a = target_a
            else:
                self.last_error = "the station rejected the live limit; only start/stop remain"

    async def _remote_start(self, session: OcppSession) -> bool:
        accepted = await session.remote_start(None)
        if not accepted:
            self.last_error = "the station rejected the remote start"
        return accepted

    # -- MeterSource ---------------------------------------------------------------------

    def readings(self) -> AsyncIterator[MeterReading]:
        return self._feed.readings()
