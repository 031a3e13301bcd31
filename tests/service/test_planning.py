"""`plan_vehicles`: every vehicle of a site in one call; a refused request is left out."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

import pytest

from optimizer.planner import PlanOptions, PlanRequest
from optimizer.service.planning import VehiclePlanRequest, exceeds, plan_vehicles, site_power_kw
from tests.service.test_session import DEPARTURE, T0, prices


def request(soc_pct: float) -> PlanRequest:
    return PlanRequest(now=T0, departure=DEPARTURE, soc_pct=soc_pct, target_soc_pct=80.0,
                       capacity_kwh=64.7, max_power_kw=11.0,
                       prices=[p for p in prices() if p.end > T0 and p.start < DEPARTURE])


def test_each_vehicle_gets_its_plan_and_a_bad_request_is_logged_and_left_out(
        caplog: pytest.LogCaptureFixture) -> None:
    bad = replace(request(30.0), soc_pct=150.0)
    plans = plan_vehicles([VehiclePlanRequest("iX1", request(30.0), PlanOptions()),
                           VehiclePlanRequest("i4", request(70.0), PlanOptions()),
                           VehiclePlanRequest("mini", bad, PlanOptions())], T0)
    assert set(plans) == {"iX1", "i4"}
    assert plans["iX1"].energy_kwh > plans["i4"].energy_kwh > 0
    assert all(s.start >= T0 + timedelta(hours=8) for s in plans["i4"].charging_slots)
    assert "vehicle 'mini': no plan" in caplog.text and "soc" in caplog.text
    assert caplog.records[0].levelno == logging.WARNING


def test_under_a_site_limit_a_car_charging_at_once_goes_first_and_the_rest_share_what_is_left(
        ) -> None:
    boost = VehiclePlanRequest("boost", request(30.0), PlanOptions(min_soc_pct=80.0), True)
    others = [VehiclePlanRequest(name, request(50.0), PlanOptions()) for name in ("a", "b")]
    plans = plan_vehicles([boost, *others], T0, 16.0)
    assert set(plans) == {"boost", "a", "b"}
    assert plans["boost"].charging_slots[0].start == T0  # at once, at its full 11 kW
    assert plans["boost"].charging_slots[0].power_kw == pytest.approx(11.0)
    assert plans["a"].method.startswith("site:") and plans["b"].method.startswith("site:")
    assert max(site_power_kw(plans.values(), T0).values()) <= 16.0 + 1e-6
    assert not exceeds(plans.values(), T0, 16.0) and exceeds(plans.values(), T0, 15.0)


def test_a_site_used_up_by_a_car_at_once_leaves_the_other_none() -> None:
    boost = VehiclePlanRequest("boost", request(30.0), PlanOptions(min_soc_pct=80.0), True)
    other = VehiclePlanRequest("other", request(50.0), PlanOptions())
    plans = plan_vehicles([boost, other], T0, 11.0)
    assert not plans["other"].feasible
    assert all(s.power_kw <= 1e-6 for s in plans["other"].slots)
    alone = plan_vehicles([other], T0, 11.0)  # one car: the whole site is its own
    assert alone["other"].feasible and alone["other"].method == "greedy"
    big = VehiclePlanRequest("big", replace(request(30.0), max_power_kw=22.0), PlanOptions())
    capped = plan_vehicles([big], T0, 11.0)["big"]  # a wallbox stronger than the connection
    assert capped.feasible and max(s.power_kw for s in capped.slots) <= 11.0 + 1e-9


@pytest.mark.parametrize("first", ["iX1", "i4"])
def test_under_a_site_limit_the_higher_priority_gets_its_minimum_soc_first(first: str) -> None:
    """`[[vehicles]] priority`: 3 kW for 13.5 hours hold one car's minimum SoC, not two;
    the vehicle of the higher priority gets it, whichever is listed first."""
    low = replace(request(10.0), target_soc_pct=80.0)
    options = PlanOptions(min_soc_pct=60.0)
    ranks = {"iX1": 0.0, "i4": 0.0, first: 1.0}
    plans = plan_vehicles([VehiclePlanRequest(name, low, options, priority=ranks[name])
                           for name in ("iX1", "i4")], T0, 3.0)
    other = "i4" if first == "iX1" else "iX1"
    assert plans[first].soc_at_departure_pct >= 60.0 - 1e-6
    assert plans[other].soc_at_departure_pct < 60.0
    assert max(site_power_kw(plans.values(), T0).values()) <= 3.0 + 1e-6
