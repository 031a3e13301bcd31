"""kill -9 in the middle of a charging session, then a restart: the same session, the same
plan, the same plug state, the same schedule on the station, and no energy counted twice."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from optimizer.service.clock import WallClock
from optimizer.service.database import ServiceDatabase
from optimizer.sim.broker import free_port
from optimizer.sim.scenario import spot_tariff
from optimizer.sim.world import ChargingWorld
from tests.service.conftest import start_process, wait_api

TZ = ZoneInfo("Europe/Berlin")


async def vehicle(base: str, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base) as client:
        response = await client.get("/api/vehicles", headers={"Authorization": f"Bearer {token}"})
        response.raise_for_status()
        view: dict[str, Any] = response.json()[0]
        return view


async def charge_until(world: ChargingWorld, done: Any, timeout_s: float = 45.0) -> None:
    """Step the car and station until `done()` (an awaitable predicate) holds."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await done():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await world.step()
        await asyncio.sleep(0.05)


async def test_kill_9_mid_session_and_restart(make_household: Any, tmp_path: Any) -> None:
    now = datetime.now(UTC)
    household = make_household(
        tariff=spot_tariff(tmp_path, now.replace(minute=0, second=0, microsecond=0), 4),
        http_port=free_port(), departure=f"{(now + timedelta(hours=9)).astimezone(TZ):%H:%M}")
    clock = WallClock()
    first = start_process(household, "first")
    second = None
    try:
        base, token = await wait_api(household, first)
        station, receiver = await household.station(clock)
        await station.send_status("Available")
        await household.stream_subscribed()
        car = household.sim.vehicles[household.config.vehicles[0].vin]
        world = ChargingWorld(household.sim, car, station, clock,
                              meter_every=timedelta(seconds=0.5))
        await world.arrive_and_plug_in()

        async def counted() -> bool:
            view = await vehicle(base, token)
            return bool(view["session"]) and view["session"]["energy_kwh"] > 0

        try:
            await charge_until(world, counted)  # the cheap hour is now: it charges at once
        except AssertionError:
            raise AssertionError(f"{await vehicle(base, token)} {first.output()[-3000:]}"
                                 ) from None
        before = await vehicle(base, token)
        profiles_before = list(station.received)
        assert before["charging"] and profiles_before

        first.popen.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(first.popen.wait, 5) == -signal.SIGKILL
        receiver.cancel()
        await asyncio.gather(receiver, return_exceptions=True)
        with ServiceDatabase(household.config.state_dir) as db:
            versions_before = db.plans(before["session"]["id"])

        second = start_process(household, "second")
        base, token = await wait_api(household, second)
        station, receiver = await household.station(clock, previous=station)
        world.station = station
        await station.send_status("Charging")
        last_at, last_wh = world.meter_log[-1]
        await station.send_meter(car.grid_kw * 1000.0, at=last_at, energy_wh=last_wh)  # again
        base_wh = world.meter_log[0][1]

        seen: list[Any] = []

        async def caught_up() -> bool:
            view = await vehicle(base, token)
            expected_kwh = (world.meter_log[-1][1] - base_wh) / 1000.0
            seen[:] = [view["session"], expected_kwh, len(world.meter_log)]
            return len(world.meter_log) > 4 and abs(
                view["session"]["energy_kwh"] - expected_kwh) < 1e-9 and \
                world.meter_log[-1][0] > last_at

        try:
            await charge_until(world, caught_up)
        except AssertionError:
            raise AssertionError(f"{seen} {second.output()[-3000:]}") from None
        after = await vehicle(base, token)
        assert after["session"]["id"] == before["session"]["id"]
        assert after["session"]["started_at"] == before["session"]["started_at"]
        assert after["plugged"] is True
        assert after["plan"] == before["plan"]
        assert after["plan_version"] == before["plan_version"]
        for profile in station.received[len(profiles_before):]:  # re-sent, never a new one
            assert profile == profiles_before[-1]
        with ServiceDatabase(household.config.state_dir) as db:
            assert db.plans(after["session"]["id"]) == versions_before
        receiver.cancel()
        await second.stop()
    finally:
        for process in (first, second):
            if process is not None and process.popen.poll() is None:
                process.popen.kill()
