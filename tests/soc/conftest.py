"""Helpers for the SoC estimator tests: events at minute offsets from a fixed start."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from optimizer.events import ChargingStatus, VehicleEvent

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
VIN = "WBA00000000000001"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def event(field: str, value: Any, minutes: float, arrived: float | None = None) -> VehicleEvent:
    return VehicleEvent(VIN, field, value, at(minutes), at(arrived if arrived is not None
                                                           else minutes))


def charge_start(soc: float = 50.0, capacity: float = 76.0, target: float = 80.0,
                 power_kw: float = 11.0, minutes: float = 0.0) -> list[VehicleEvent]:
    """What a car sends when an AC charge starts, then its first power report a minute later."""
    return [
        event("plugged", True, minutes - 1),
        event("soc_pct", soc, minutes),
        event("capacity_kwh", capacity, minutes),
        event("target_soc_pct", target, minutes),
        event("charging_status", ChargingStatus.CHARGING, minutes),
        event("charging_power_kw", power_kw, minutes + 1),
    ]


@pytest.fixture
def feed() -> Callable[..., None]:
    def _feed(estimator: Any, events: list[VehicleEvent]) -> None:
        for e in events:
            estimator.ingest(e)

    return _feed
