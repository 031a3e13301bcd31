"""Two cars on two `ocpp`-library stations behind one `[site] max_power_kw` below the sum of
their chargers: planned jointly, the second plug-in re-makes the first car's plan, and the two
uploaded profiles never add up to more than the site allows."""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from optimizer.model import ChargePlan
from optimizer.service.clock import ScaledClock
from optimizer.service.planning import site_power_kw
from optimizer.session import SocReport
from optimizer.sim.scenario import spot_tariff
from optimizer.sim.station import SimStation, connect_station
from tests.service.conftest import Household, in_process

TZ = ZoneInfo("Europe/Berlin")
SITE_KW = 11.04  # 16 A on three phases at 230 V; each charger alone can draw as much
SITE_A = 16.0
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def add_second_car(household: Household) -> str:
    """A second car on its own station, on the same central system; returns its password."""
    password = secrets.token_urlsafe(18)
    secret = household.workdir / "state" / "ocpp-carport.password"
    secret.write_text(password + "\n", encoding="utf-8")
    secret.chmod(0o600)
    departures = "\n".join(f'{d} = "07:30"' for d in DAYS)
    with household.config_path.open("a", encoding="utf-8") as config:
        config.write("\n".join([
            "", "[[vehicles]]", 'name = "i4"', 'vin = "WBA00000000000U42"',
            "capacity_kwh = 80.7", "target_soc_pct = 80", "min_soc_pct = 20",
            'charger = "carport"', "[vehicles.departures]", departures,
            "[[chargers]]", 'name = "carport"', 'kind = "ocpp"', "phases = 3",
            "max_current_a = 16", "[chargers.ocpp]", 'station_id = "carport"',
            'password_file = "state/ocpp-carport.password"', f"port = {household.ocpp_port}",
            ""]))
    return password


def profile_a(station: SimStation, at: datetime) -> float:
    """The current the station's latest profile allows at `at` (0 past its end)."""
    profile = station.received[-1]
    if profile.valid_to is not None and at >= profile.valid_to:
        return 0.0
    return station.limit_at(at)


async def plug_in(station: SimStation, service: Any, name: str, soc_pct: float,
                  at: datetime) -> None:
    station.profile_event.clear()
    service.submit(name, SocReport(soc_pct, soc_pct - 0.5, soc_pct + 0.5, at))
    await station.send_status("Preparing")
    await asyncio.wait_for(station.profile_event.wait(), 20)


async def test_two_cars_share_the_site_limit(make_household: Any, tmp_path: Any) -> None:
    day = datetime.now(TZ).date()
    arrival = datetime.combine(day, time(18, 0), tzinfo=TZ)
    departure = datetime.combine(day + timedelta(days=1), time(7, 30), tzinfo=TZ)
    cheap_from = datetime.combine(day + timedelta(days=1), time(1, 0), tzinfo=TZ)
    household = make_household(tariff=spot_tariff(tmp_path, cheap_from, 3),
                               extra=f"[site]\nmax_power_kw = {SITE_KW}")
    password = add_second_car(household)
    clock = ScaledClock(arrival, 1.0, running=False)  # it stands: every plan is made at 18:00
    async with in_process(household, clock) as started:
        service = started.service
        garage, garage_task = await household.station(clock)
        carport, carport_task = await connect_station(household.ocpp_url, "carport", password,
                                                      clock)
        for station in (garage, carport):
            await station.send_status("Available")

        await plug_in(garage, service, "iX1", 30.0, arrival)
        alone = service.fleet["iX1"].state.plan
        assert alone is not None and alone.feasible and service.fleet["iX1"].state.plan_version == 1
        # alone, it takes the whole connection in the cheap hours
        assert max(s.power_kw for s in alone.charging_slots) > SITE_KW / 2

        garage.profile_event.clear()
        await plug_in(carport, service, "i4", 40.0, arrival)
        await asyncio.wait_for(garage.profile_event.wait(), 20)  # the first car's new plan
        first, second = service.fleet["iX1"].state, service.fleet["i4"].state
        assert first.plan_version == 2 and first.plan_reason is not None
        assert "other vehicles of the site" in first.plan_reason
        plans: list[ChargePlan] = [p for p in (first.plan, second.plan) if p is not None]
        assert len(plans) == 2 and plans[0] != alone
        for result, target in zip(plans, (80.0, 80.0), strict=True):
            assert result.feasible and result.soc_at_departure_pct >= target - 1e-6
            assert result.method.startswith("site:")
        assert max(site_power_kw(plans, arrival).values()) <= SITE_KW + 1e-6
        at = arrival
        while at < departure:
            total_a = profile_a(garage, at) + profile_a(carport, at)
            # OCPP 1.6 limits are multiples of 0.1 A, each rounded down: never above the site
            assert total_a <= SITE_A + 1e-9, (at, total_a)
            at += timedelta(minutes=15)
        # a SoC report that changes nothing re-plans both, and neither plan is replaced
        versions = (first.plan_version, second.plan_version)
        asked = len([e for e in service.db.events(limit=10_000) if e["kind"] == "MakePlan"])
        await service.submit_and_wait("i4", SocReport(40.0, 39.5, 40.5,
                                                      arrival + timedelta(seconds=1)))
        assert len([e for e in service.db.events(limit=10_000)
                    if e["kind"] == "MakePlan"]) == asked + 1
        assert (service.fleet["iX1"].state.plan_version,
                service.fleet["i4"].state.plan_version) == versions
        for task in (garage_task, carport_task):
            task.cancel()
