"""The ports: small Protocols that adapters implement and the service wires together.

As in evcc's `api/`, each ability is its own small interface and all of them live here, so a new
device family only has to look in one place. Optional abilities (a charger that accepts a whole
schedule) are separate Protocols checked with `isinstance` at run time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from optimizer.model import ChargePlan, PriceSlot

if TYPE_CHECKING:  # annotations only: `plan` needs the clock here, not the events module
    from optimizer.events import ChargerStatus, MeterReading, Notification, VehicleEvent


class Clock(Protocol):
    """Where the service gets `now`; the pure core never calls it, it receives `now`."""

    def now(self) -> datetime: ...


class WallClock:
    """The real `Clock` (aware, in UTC): the only one outside tests and the simulator."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@runtime_checkable
class VehicleSource(Protocol):
    """Yields normalised vehicle events (CarData stream, REST polls, a replayed file)."""

    def events(self) -> AsyncIterator[VehicleEvent]: ...


@runtime_checkable
class PriceSource(Protocol):
    """Price slots on the 15-minute grid for `[start, end)`; unknown prices are None."""

    def price_slots(self, start: datetime, end: datetime) -> Sequence[PriceSlot]: ...


@runtime_checkable
class Charger(Protocol):
    """The minimum every charger can do: switch, limit current, report status and meter."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def set_current_limit(self, current_a: float) -> None:
        """Limit the charging current; values below the device minimum mean stop."""
        ...

    async def status(self) -> ChargerStatus: ...


@runtime_checkable
class ScheduleCharger(Protocol):
    """A charger that can hold a whole plan itself (OCPP charging profiles with `validTo`).

    Preferred over live limits: the wallbox keeps following the plan, and falls back to a safe
    state at the end of it, even when this service is gone.
    """

    async def apply_plan(self, plan: ChargePlan) -> None: ...


@runtime_checkable
class PlanExecutor(ScheduleCharger, Protocol):
    """Carries a plan out slot by slot: OCPP in live mode, Modbus and Home Assistant always.

    The service calls `tick(now)` at every slot boundary; `now` comes from the service's clock,
    so a replay or an accelerated demo drives the charger exactly like real time.
    """

    async def tick(self, now: datetime) -> object: ...


@runtime_checkable
class MeterSource(Protocol):
    """Cumulative energy and power readings of a wallbox, fed back to the SoC estimator."""

    def readings(self) -> AsyncIterator[MeterReading]: ...


@runtime_checkable
class Notifier(Protocol):
    """Takes a notification for delivery. Must not block the control loop: queue, then send."""

    async def notify(self, notification: Notification) -> None: ...


@runtime_checkable
class Store(Protocol):
    """Persistence of small named JSON documents (learned efficiency, quota ledger, last plan)."""

    def load(self, key: str) -> object | None: ...

    def save(self, key: str, value: object) -> None: ...
