"""A `ServiceFacade` for the dashboard and Home Assistant tests: vehicles planned by the real
planner on the shipped day-ahead prices, commands that re-plan, and a change feed.

It stands in for the charging service (its own issue), so the adapters are tested against the
facade contract; the numbers it shows are real plans, not canned ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from optimizer.commands.plan import plan_to_json
from optimizer.planner import PlanRequest, plan
from optimizer.tariffs import PriceSeries, read_price_csv
from optimizer.web.facade import SessionView, VehicleView

ROOT = Path(__file__).resolve().parents[1]
PRICES = ROOT / "tariffs" / "prices" / "de_lu_dayahead_2024.csv"
CONTRACT_KEYS = ("name", "vin", "plugged", "charging", "soc_pct", "soc_low_pct", "soc_high_pct",
                 "target_soc_pct", "departure", "plan", "session")
"""The keys `GET /api/vehicles` promises; the others are extras the adapters use if present."""
NOW = datetime.fromisoformat("2024-03-05T18:00:00+01:00")
DEPARTURE = datetime.fromisoformat("2024-03-06T07:30:00+01:00")


@dataclass
class Car:
    name: str
    vin: str
    soc_pct: float = 34.0
    band_pct: float = 3.0
    target_soc_pct: float = 80.0
    departure: datetime = DEPARTURE
    capacity_kwh: float = 64.7
    max_power_kw: float = 11.0
    plugged: bool = True
    charging: bool = False
    smart: bool = True
    boost: bool = False
    session: dict[str, Any] | None = field(default_factory=lambda: {
        "id": 7, "started_at": "2024-03-05T17:55:00+00:00", "energy_kwh": 0.0, "cost": 0.0})


class PlanningFacade:
    def __init__(self, cars: list[Car], now: datetime = NOW,
                 prices: PriceSeries | None = None, contract_only: bool = False) -> None:
        self.contract_only = contract_only
        self.cars = {car.name: car for car in cars}
        self.now = now
        self.prices = prices or read_price_csv(PRICES)
        self.calls: list[tuple[str, str, Any]] = []
        self._subscribers: list[asyncio.Queue[list[VehicleView]]] = []
        self._sessions: list[SessionView] = [
            {"id": 5, "vehicle": cars[0].name, "started_at": "2024-03-03T17:40:00+00:00",
             "ended_at": "2024-03-04T06:10:00+00:00", "energy_kwh": 21.4, "cost": 3.12,
             "cost_on_arrival": 4.95, "saving": 1.83},
            {"id": 6, "vehicle": cars[0].name, "started_at": "2024-03-04T18:20:00+00:00",
             "ended_at": "2024-03-05T06:00:00+00:00", "energy_kwh": 17.9, "cost": 2.40,
             "cost_on_arrival": 3.61, "saving": 1.21},
            # the session under way: its saving is known only when it ends
            {"id": 7, "vehicle": cars[0].name, "started_at": "2024-03-05T17:10:00+00:00",
             "ended_at": None, "energy_kwh": 2.1, "cost": 0.61,
             "cost_on_arrival": None, "saving": None},
        ]

    def _view(self, car: Car) -> VehicleView:
        slots = self.prices.price_slots(self.now, car.departure)
        result = plan(PlanRequest(now=self.now, departure=car.departure, soc_pct=car.soc_pct,
                                  target_soc_pct=car.target_soc_pct,
                                  capacity_kwh=car.capacity_kwh,
                                  max_power_kw=car.max_power_kw, prices=slots))
        at_once = self._cost_at_once(result.energy_kwh, car.max_power_kw, slots)
        view = {
            "name": car.name, "vin": car.vin, "plugged": car.plugged, "charging": car.charging,
            "soc_pct": car.soc_pct, "soc_low_pct": car.soc_pct - car.band_pct,
            "soc_high_pct": car.soc_pct + car.band_pct, "target_soc_pct": car.target_soc_pct,
            "departure": car.departure.isoformat(),
            "plan": plan_to_json(result) if car.plugged else None,
            "session": car.session, "smart": car.smart, "boost": car.boost,
            "currency": "EUR", "price_now": self.prices.price_at(self.now),
            "expected_saving": round(at_once - result.cost, 4),
            "prices": [{"start": s.start.isoformat(), "end": s.end.isoformat(),
                        "price": s.price} for s in slots],
        }
        return {k: view[k] for k in CONTRACT_KEYS} if self.contract_only else view

    @staticmethod
    def _cost_at_once(energy_kwh: float, power_kw: float, slots: list[Any]) -> float:
        cost, left = 0.0, energy_kwh
        for slot in slots:
            take = min(left, power_kw * (slot.end - slot.start) / timedelta(hours=1))
            cost += take * (slot.price or 0.0)
            left -= take
            if left <= 0:
                break
        return cost

    def vehicles(self) -> list[VehicleView]:
        return [self._view(car) for car in self.cars.values()]

    def sessions(self) -> list[SessionView]:
        return list(self._sessions)

    def health(self) -> dict[str, Any]:
        return {"ok": True}

    def _car(self, name: str) -> Car:
        if name not in self.cars:
            raise KeyError(name)
        return self.cars[name]

    async def set_target(self, name: str, soc_pct: float | None,
                         departure: datetime | None) -> None:
        car = self._car(name)
        if soc_pct is not None and not 0 < soc_pct <= 100:
            raise ValueError(f"target {soc_pct} is not in (0, 100]")
        if departure is not None and departure <= self.now:
            raise ValueError("departure is in the past")
        self.calls.append((name, "target", (soc_pct, departure)))
        if soc_pct is not None:
            car.target_soc_pct = soc_pct
        if departure is not None:
            car.departure = departure
        self._changed()

    async def set_boost(self, name: str, on: bool) -> None:
        self._car(name).boost = on
        self.calls.append((name, "boost", on))
        self._changed()

    async def set_smart(self, name: str, on: bool) -> None:
        self._car(name).smart = on
        self.calls.append((name, "smart", on))
        self._changed()

    def _changed(self) -> None:
        snapshot = self.vehicles()
        for queue in self._subscribers:
            queue.put_nowait(snapshot)

    async def changes(self) -> AsyncIterator[list[VehicleView]]:
        queue: asyncio.Queue[list[VehicleView]] = asyncio.Queue()
        self._subscribers.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.remove(queue)
