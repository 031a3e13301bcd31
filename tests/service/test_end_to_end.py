"""The whole service on an accelerated clock: the CarData simulator (real mosquitto), an
`ocpp`-library station, SQLite. Plug-in at 18:00 to departure at 07:30."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from optimizer.service.clock import ScaledClock
from optimizer.service.database import ServiceDatabase
from optimizer.session import cost_at_once
from optimizer.sim.scenario import ShiftedPrices, weeks_back_into
from optimizer.sim.world import ChargingWorld
from optimizer.tariffs import load_tariff
from tests.service.conftest import in_process

TZ = ZoneInfo("Europe/Berlin")
SPEED = 2500.0


async def test_a_night_from_plug_in_to_departure(make_household: Any) -> None:
    household = make_household()
    config = household.config
    day = datetime.now(TZ).date()
    arrival = datetime.combine(day, time(18, 0), tzinfo=TZ)
    departure = datetime.combine(day + timedelta(days=1), time(7, 30), tzinfo=TZ)
    clock = ScaledClock(arrival, SPEED, running=False)
    tariff = load_tariff(config.tariff)
    assert tariff.known_until is not None
    prices = ShiftedPrices(tariff, weeks_back_into(arrival,
                                                   tariff.known_until - timedelta(days=2)))
    async with in_process(household, clock, prices) as started:
        service = started.service
        station, receiver = await household.station(clock)
        await station.send_status("Available")
        await household.stream_subscribed()
        car = household.sim.vehicles[config.vehicles[0].vin]
        offered: list[tuple[datetime, float]] = []
        world = ChargingWorld(household.sim, car, station, clock)
        await world.arrive_and_plug_in()  # at 18:00: the clock stands until the car is in
        clock.run()
        await asyncio.wait_for(station.profile_event.wait(), 5)  # the plan, as a profile
        view = service.vehicles()[0]
        assert view["plugged"] and view["plan"] is not None and view["session"] is not None
        session_id = view["session"]["id"]
        first_plan = service.fleet["iX1"].state.plan
        assert first_plan is not None and first_plan.feasible
        profile = station.profiles[1]
        assert profile.purpose == "TxDefaultProfile" and profile.valid_to is not None
        assert profile.valid_to <= departure
        assert any(limit > 0 for _, limit in profile.periods)
        while clock.now() < departure:
            await world.step()
            at = clock.now()
            if at < departure:  # past validTo the station is back on its own default
                offered.append((at, station.offered_a(at)))
            await asyncio.sleep(0.02)
        await world.unplug()
        for _ in range(100):
            if not service.vehicles()[0]["plugged"]:
                break
            await asyncio.sleep(0.02)
        receiver.cancel()

    # charging in the cheap slots: the first plan pays less per kWh than charging at once on
    # arrival would, and the station offered current only in slots some plan version chose
    window = prices.price_slots(arrival, departure)
    at_once = cost_at_once(window, arrival, first_plan.energy_kwh, 11.04)
    assert at_once is not None and first_plan.cost < at_once
    with ServiceDatabase(config.state_dir) as db:  # what is on disk after the stop
        versions = db.plans(session_id)
        sessions = db.sessions()
        events = db.events(limit=10_000)
    chosen = {datetime.fromisoformat(slot[0]) for v in versions for slot in v["plan"]["slots"]
              if slot[2] > 0}
    charged = [at for at, amps in offered if amps > 0]
    assert charged, "the station never let the car charge"
    slot_s = 900
    for at in charged:
        start = datetime.fromtimestamp(int(at.timestamp()) // slot_s * slot_s, TZ)
        assert start in chosen or any(abs((c - at).total_seconds()) < 60 for c in chosen), at
    # re-planned at every slot boundary and SoC report, but only material changes are new
    # versions (and uploads)
    asked = [e for e in events if e["kind"] == "MakePlan"]
    assert len(asked) >= 54  # 13.5 h of 15-minute slot boundaries at least
    assert len(versions) <= len(asked) / 5
    # the target by departure
    assert car.soc_pct >= 79.5
    # the session saved with its cost and saving
    assert sessions[0]["id"] == session_id and sessions[0]["ended_at"] is not None
    session = sessions[0]
    assert session["energy_kwh"] > 30.0
    assert session["cost"] > 0 and session["cost_on_arrival"] is not None
    assert session["saving"] == session["cost_on_arrival"] - session["cost"]
    assert session["saving"] > 0
