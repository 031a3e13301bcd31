"""Shared fixtures for the charger tests: an injected clock, plans built slot by slot, and a
central system with one OCPP station configured ("CP1")."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from optimizer.chargers.central_system import CentralSystem
from optimizer.chargers.limits import CurrentRange
from optimizer.chargers.ocpp_charger import OcppCharger
from optimizer.model import SLOT, ChargePlan, PlannedSlot

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
PASSWORD = "s3cret-Passw0rd"
RANGE = CurrentRange(phases=3, voltage_v=230.0, min_current_a=6.0, max_current_a=16.0)


class FakeClock:
    """The service's `Clock` port with time that only moves when a test moves it."""

    def __init__(self, now: datetime = T0) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def central(clock: FakeClock) -> AsyncIterator[tuple[CentralSystem, OcppCharger]]:
    system = CentralSystem(clock, response_timeout_s=5)
    charger = system.add(OcppCharger("garage", "CP1", PASSWORD, RANGE, clock, wait_timeout_s=5))
    async with system:
        yield system, charger


def make_plan(start: datetime, powers_kw: Sequence[float]) -> ChargePlan:
    """A plan of consecutive 15-minute slots with the given grid power, zero slots included."""
    slots = tuple(
        PlannedSlot(
            start=start + i * SLOT,
            end=start + (i + 1) * SLOT,
            power_kw=power_kw,
            energy_kwh=power_kw * 0.25,
            price=0.30,
            provisional=False,
            soc_start_pct=50.0,
            soc_end_pct=50.0,
        )
        for i, power_kw in enumerate(powers_kw)
    )
    energy_kwh = sum(s.energy_kwh for s in slots)
    return ChargePlan(
        feasible=True, reason=None, now=start, departure=slots[-1].end, soc_start_pct=50.0,
        target_soc_pct=80.0, soc_at_departure_pct=80.0, energy_kwh=energy_kwh,
        cost=energy_kwh * 0.30, slots=slots,
    )
