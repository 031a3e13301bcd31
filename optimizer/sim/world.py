"""The physical side of the demo and the end-to-end tests: a simulated car on a simulated
OCPP station, in the service's (possibly accelerated) time.

The station decides what the car may draw (its charging profile), the car charges along its
real curve and tells CarData about it (through the simulator's mosquitto), and the station's
meter counts the grid energy and reports it over OCPP. Nothing here knows the service: it sees
only what a real car and wallbox would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from optimizer.ports import Clock
from optimizer.sim.simulator import Simulator
from optimizer.sim.station import SimStation
from optimizer.sim.vehicle import SimVehicle

Listener = Callable[[str, dict[str, Any]], None]
PHYSICS_STRIDE = timedelta(seconds=30)


class ChargingWorld:
    def __init__(self, sim: Simulator, car: SimVehicle, station: SimStation, clock: Clock, *,
                 phases: int = 3, voltage_v: float = 230.0,
                 meter_every: timedelta = timedelta(minutes=5),
                 listener: Listener | None = None) -> None:
        self.sim = sim
        self.car = car
        self.station = station
        self.clock = clock
        self.phases = phases
        self.voltage_v = voltage_v
        self.meter_every = meter_every
        self.listener = listener
        self._last_meter: datetime | None = None
        self._physics_at: datetime | None = None
        self.meter_log: list[tuple[datetime, float]] = []
        """Every meter reading sent: (time, cumulative whole Wh, as a real meter reports)."""

    def _tell(self, what: str, **detail: Any) -> None:
        if self.listener is not None:
            self.listener(what, {"soc_pct": round(self.car.soc_pct, 1), **detail})

    async def publish(self, messages: list[bytes]) -> None:
        await asyncio.to_thread(self.sim.publish, self.car, messages)

    async def arrive_and_plug_in(self) -> None:
        now = self.clock.now()
        await self.publish(self.car.arrive(now))
        await self.publish(self.car.plug_in(now))
        await self.station.send_status("Preparing")
        self._tell("plugged_in")

    async def unplug(self) -> None:
        now = self.clock.now()
        await self._meter(now, force=True)
        if self.station.transaction_id is not None:
            await self.station.stop_transaction()
        await self.publish(self.car.unplug(now))
        await self.station.send_status("Available")
        self._tell("unplugged")

    async def step(self) -> None:
        """Move the physics on to the clock's `now` (call it often), in strides of at most
        `PHYSICS_STRIDE` of simulated time: at a high speed, or on a loaded machine, one call
        may cover many minutes, and the station's limit must be read at each moment of them."""
        now = self.clock.now()
        at = self._physics_at or now
        while True:
            at = min(now, at + PHYSICS_STRIDE)
            await self._physics(at)
            if at >= now:
                break
        self._physics_at = now

    async def _physics(self, now: datetime) -> None:
        car, station = self.car, self.station
        if not car.plugged:
            return
        offered_kw = station.offered_a(now) * self.phases * self.voltage_v / 1000.0
        car.charger_kw = offered_kw
        if car.charging:
            before_kwh = car.energy_grid_kwh
            messages = car.advance(now)
            station.energy_wh += (car.energy_grid_kwh - before_kwh) * 1000.0
            if messages:
                await self.publish(messages)
            if not self.car_charging():  # the car stopped at its own target
                await station.send_status("SuspendedEV")
                self._tell("car_full")
            elif offered_kw <= 0:
                await self.publish(car.stop_charging(now))
                await station.send_status("SuspendedEVSE")
                self._tell("paused_by_station")
        elif offered_kw > 0 and car.soc_pct < car.target_soc_pct - 0.5:
            await self.publish(car.start_charging(now))
            await station.send_status("Charging")
            self._tell("drawing", power_kw=round(car.grid_kw, 2))
        await self._meter(now)

    def car_charging(self) -> bool:
        """Read afresh (after `advance`, which may have stopped the charge)."""
        return self.car.charging

    async def _meter(self, now: datetime, force: bool = False) -> None:
        due = self._last_meter is None or now - self._last_meter >= self.meter_every
        if self.station.transaction_id is not None and (due or force):
            self._last_meter = now
            self.meter_log.append((now, round(self.station.energy_wh)))
            await self.station.send_meter(self.car.grid_kw * 1000.0, at=now)

    async def run(self, until: datetime, period_s: float = 0.05) -> None:
        """Step until the clock reaches `until` (wall period `period_s`)."""
        while self.clock.now() < until:
            await self.step()
            await asyncio.sleep(period_s)
