"""The fleet planner's rules, one case each: who gets the power when not everyone can."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from optimizer.config import parse_config
from optimizer.errors import ConfigError
from optimizer.planner import PlanOptions, PlanRequest, plan
from optimizer.planner.fleet import FleetRequest, FleetVehicle, plan_fleet
from optimizer.planner.site import SiteRequest, plan_site
from tests.planner.conftest import slots

NOW = datetime(2024, 3, 5, 0, 0, tzinfo=UTC)
FLAT = slots([0.30] * 48, NOW)


def car(name: str, hours: float, need_kwh: float, **kw: float) -> FleetVehicle:
    """A 100 kWh car at 0 % whose target is `need_kwh` of grid energy (efficiency 1)."""
    return FleetVehicle(name, 0.0, need_kwh, 100.0, NOW + timedelta(hours=hours), 11.0,
                        efficiency=1.0, **kw)  # type: ignore[arg-type]


def energies(*vehicles: FleetVehicle, site_kw: float = 11.0) -> dict[str, float]:
    result = plan_fleet(FleetRequest(NOW, site_kw, vehicles, FLAT))
    return {v.name: round(v.energy_kwh, 6) for v in result.vehicles}


def test_a_fleet_that_fits_uses_the_cheap_hours_jointly() -> None:
    prices = slots([0.40, 0.10, 0.20, 0.40], NOW)
    a = car("a", 4, 11.0)
    b = car("b", 4, 11.0)
    result = plan_fleet(FleetRequest(NOW, 11.0, (a, b), prices))
    assert result.feasible
    # 22 kWh through an 11 kW connection: the 0.10 hour and the 0.20 hour, shared
    assert abs(result.cost - 11 * 0.10 - 11 * 0.20) <= 1e-9


def test_ties_in_shortfall_go_to_the_earlier_departure() -> None:
    """The first hour is shared; after it only b is there. Any split of the first hour gives
    the same total (22 kWh), so the earlier departure, a, gets the first hour."""
    got = energies(car("a", 1, 20.0), car("b", 2, 50.0))
    assert got == {"a": 11.0, "b": 11.0}


def test_ties_in_shortfall_go_to_the_higher_priority_first() -> None:
    got = energies(car("a", 1, 20.0), car("b", 2, 50.0, priority=1))
    assert got == {"a": 0.0, "b": 22.0}


def test_least_total_shortfall_comes_before_priority() -> None:
    """a (priority 5) leaves at 00:05, so a kW in the first slot gives it a third of what it
    gives b: the least total shortfall puts the whole first slot into b, whatever a's rank."""
    got = energies(car("a", 5 / 60, 5.0, priority=5), car("b", 1, 50.0))
    assert got == {"a": 0.0, "b": 11.0}


def test_priority_breaks_a_tie_in_the_shortfall() -> None:
    got = energies(car("a", 1, 5.0, priority=5), car("b", 1, 50.0))
    assert got == {"a": 5.0, "b": 6.0}


def test_minimum_soc_first_by_priority_then_the_shortfall() -> None:
    """One hour, 11 kWh. Without minimum SoCs the least shortfall is indifferent; with them,
    b (priority 1) gets its 8 kWh first, a then its 3 of 6 (its minimum can only be met in
    part), and nothing is left for the targets."""
    got = energies(car("a", 1, 30.0, min_soc_pct=6.0), car("b", 1, 30.0, min_soc_pct=8.0,
                                                          priority=1))
    assert got == {"a": 3.0, "b": 8.0}


def test_every_minimum_soc_met_then_the_least_shortfall() -> None:
    """a leaves at 00:45, b at 01:00; every split of the shared 45 minutes gives the same
    total, so the earlier departure, a, gets them, except what b needs beyond its last
    (own) slot's 2.75 kWh to reach its 4 kWh minimum."""
    got = energies(car("a", 0.75, 30.0, min_soc_pct=2.0), car("b", 1, 30.0, min_soc_pct=4.0))
    assert got == {"a": 7.0, "b": 4.0}


def test_a_departed_or_full_car_gets_nothing_and_says_whether_it_made_it() -> None:
    gone = FleetVehicle("gone", 50, 80, 60, NOW - timedelta(minutes=5), 11.0)
    full = FleetVehicle("full", 85, 80, 60, NOW + timedelta(hours=2), 11.0)
    result = plan_fleet(FleetRequest(NOW, 11.0, (gone, full), FLAT))
    assert [v.feasible for v in result.vehicles] == [False, True]
    assert result.vehicles[0].reason and "passed" in result.vehicles[0].reason
    assert result.cost == 0.0 and result.method == "none"


def test_minimum_power_is_held_and_the_gap_reported() -> None:
    """With a 6 A three-phase minimum (4.14 kW) and an 11.04 kW house, two cars cannot both
    run at 11 kW but each may run alone or both at >= 4.14 kW."""
    prices = slots([0.40, 0.10, 0.20, 0.40], NOW)
    a = FleetVehicle("a", 0, 10, 100, NOW + timedelta(hours=4), 11.0, 4.14, 1.0)
    b = FleetVehicle("b", 0, 10, 100, NOW + timedelta(hours=4), 11.0, 4.14, 1.0)
    result = plan_fleet(FleetRequest(NOW, 11.04, (a, b), prices))
    assert result.feasible and result.method == "highs-milp"
    assert result.mip_gap is not None and result.mip_gap <= 1e-5
    for vehicle in result.vehicles:
        for slot in vehicle.charging_slots:
            assert 4.14 - 1e-9 <= slot.power_kw <= 11.0 + 1e-9
    assert abs(result.cost - (11.04 * 0.10 + (20 - 11.04) * 0.20)) <= 1e-6


def test_plan_site_plans_jointly_under_a_limit_and_alone_without() -> None:
    prices = slots([0.40, 0.10, 0.20, 0.40], NOW)

    def request(departure_h: float) -> PlanRequest:
        return PlanRequest(now=NOW, departure=NOW + timedelta(hours=departure_h), soc_pct=0,
                           target_soc_pct=11, capacity_kwh=100, max_power_kw=11,
                           efficiency=1.0, prices=prices)

    requests = {"a": SiteRequest(request(4)), "b": SiteRequest(request(4))}
    alone = plan_site(requests, None, NOW)
    assert alone["a"] == plan(requests["a"].request)
    joint = plan_site(requests, 11.0, NOW)
    assert joint["a"].feasible and joint["b"].feasible
    powers: dict[datetime, float] = {}
    for result in joint.values():
        assert result.method.startswith("site:")
        for slot in result.charging_slots:
            powers[slot.start] = powers.get(slot.start, 0.0) + slot.power_kw
    assert max(powers.values()) <= 11.0 + 1e-9
    assert abs(sum(r.cost for r in joint.values()) - 11 * 0.10 - 11 * 0.20) <= 1e-9
    with_runs = {"a": SiteRequest(request(4), PlanOptions(min_run_minutes=30)),
                 "b": requests["b"]}
    noted = plan_site(with_runs, 11.0, NOW)
    assert noted["a"].reason is not None and "min_run_minutes" in noted["a"].reason


def test_site_section_in_the_config() -> None:
    base = {
        "tariff": "t.toml",
        "vehicles": [{"name": "x", "vin": "WBA11111111111111", "capacity_kwh": 60,
                      "charger": "c"}],
        "chargers": [{"name": "c", "kind": "simulated"}],
    }
    assert parse_config(base).site.max_power_kw is None
    assert parse_config({**base, "site": {"max_power_kw": 11.04}}).site.max_power_kw == 11.04
    for bad, word in (({"max_power_kw": 0}, "max_power_kw"),
                      ({"max_power_w": 11040}, "max_power_w")):
        try:
            parse_config({**base, "site": bad})
        except ConfigError as exc:
            assert f"site.{word}" in str(exc)
        else:
            raise AssertionError(f"{bad} was accepted")


def test_slots_past_the_published_prices_are_flagged() -> None:
    """Prices for two hours, a car that needs three: the third hour is priced at the fallback
    (a hair above the dearest known price), flagged, and the plan says so."""
    prices = slots([0.20, 0.10], NOW)
    result = plan_fleet(FleetRequest(NOW, 11.0, (car("a", 3, 30.0),), prices))
    assert result.feasible
    unknown = [s for s in result.vehicles[0].charging_slots if s.provisional]
    assert unknown and all(s.price > 0.20 for s in unknown)
    assert result.reason is not None and "beyond the published prices" in result.reason


def test_plan_site_passes_priority_and_minimum_soc_on() -> None:
    """One hour, 11 kWh for two cars that want 30 each: b's priority and both minimum SoCs
    (from the plan options) reach the joint rule."""
    def request() -> PlanRequest:
        return PlanRequest(now=NOW, departure=NOW + timedelta(hours=1), soc_pct=0,
                           target_soc_pct=30, capacity_kwh=100, max_power_kw=11,
                           efficiency=1.0, prices=FLAT)

    plans = plan_site(
        {"a": SiteRequest(request(), PlanOptions(min_soc_pct=6)),
         "b": SiteRequest(request(), PlanOptions(min_soc_pct=8), priority=1)},
        11.0, NOW,
    )
    assert round(plans["a"].energy_kwh, 6) == 3.0 and round(plans["b"].energy_kwh, 6) == 8.0
    assert not plans["a"].feasible and plans["a"].reason
