"""The joint planner against an independent joint LP (SciPy/HiGHS) on random real-price fleets.

Each fleet starts at a random instant of 2024 (not on the 15-minute grid), its cars leave at
random seconds (so most have a partial last slot), and the site limit is drawn between "one car
at a time" and "no limit at all". Checked: the same cost within 1e-6 relative, feasibility
agrees, the power at every slot is within the site limit and each car's power within its
bounds, and every target is met.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from optimizer.planner.fleet import FleetPlan, FleetRequest, FleetVehicle, plan_fleet
from optimizer.tariffs import PriceSeries
from tests.planner.fleet_reference import RefVehicle, reference_fleet

START_2024 = datetime(2024, 1, 2, tzinfo=UTC)
POWERS_KW = (3.7, 7.4, 11.0, 22.0)


@st.composite
def fleets(draw: st.DrawFn, min_power: bool = False) -> tuple[datetime, float, list[FleetVehicle]]:
    now = START_2024 + timedelta(seconds=draw(st.integers(0, 330 * 86400)))
    count = draw(st.integers(1, 6))
    vehicles = []
    for index in range(count):
        max_kw = draw(st.sampled_from(POWERS_KW))
        soc = draw(st.floats(0, 90))
        vehicles.append(FleetVehicle(
            name=f"car{index}",
            soc_pct=soc,
            # no needs of a nano-kWh: the MILP reference's 1e-6 feasibility tolerance would
            # call them met with the charger off
            target_soc_pct=min(100.0, soc + draw(st.just(0.0) | st.floats(0.01, 60))),
            capacity_kwh=draw(st.floats(20, 110)),
            departure=now + timedelta(seconds=draw(st.integers(2 * 3600, 48 * 3600))),
            max_power_kw=max_kw,
            min_power_kw=min(draw(st.sampled_from((1.4, 4.1))), max_kw) if min_power else 0.0,
            efficiency=draw(st.floats(0.8, 1.0)),
        ))
    total_kw = sum(v.max_power_kw for v in vehicles)
    site_kw = draw(st.floats(min(3.0, total_kw), total_kw + 1.0))
    return now, site_kw, vehicles


def _request(de_lu: PriceSeries, fleet: tuple[datetime, float, list[FleetVehicle]]) -> FleetRequest:
    now, site_kw, vehicles = fleet
    last = max(v.departure for v in vehicles)
    return FleetRequest(now, site_kw, tuple(vehicles), de_lu.price_slots(now, last))


def check_plan(request: FleetRequest, result: FleetPlan) -> None:
    """Site limit per slot, power bounds per car, targets, and costs that add up."""
    by_slot: dict[datetime, float] = defaultdict(float)
    assert len(result.vehicles) == len(request.vehicles)
    for vehicle, plan in zip(request.vehicles, result.vehicles, strict=True):
        assert plan.name == vehicle.name
        energy = 0.0
        for slot in plan.charging_slots:
            assert slot.start >= request.now
            assert slot.end <= vehicle.departure
            assert slot.power_kw <= vehicle.max_power_kw + 1e-9
            assert slot.power_kw >= vehicle.min_power_kw - 1e-9
            hours = (slot.end - slot.start).total_seconds() / 3600
            assert abs(slot.energy_kwh - slot.power_kw * hours) <= 1e-9
            by_slot[slot.start] += slot.power_kw
            energy += slot.energy_kwh
        assert abs(plan.energy_kwh - energy) <= 1e-9
        if plan.feasible:
            assert plan.soc_at_departure_pct >= vehicle.target_soc_pct - 1e-6
            assert plan.shortfall_kwh == 0.0
        else:
            assert plan.shortfall_kwh > 0
    for start, power in by_slot.items():
        assert power <= request.site_max_power_kw * (1 + 1e-9) + 1e-7, start
    assert abs(result.cost - sum(p.cost for p in result.vehicles)) <= 1e-9


def _reference(request: FleetRequest):  # type: ignore[no-untyped-def]
    return reference_fleet(
        request.prices, request.now, request.site_max_power_kw,
        [RefVehicle(v.need_kwh, v.departure, v.max_power_kw, v.min_power_kw)
         for v in request.vehicles],
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleet=fleets())
def test_continuous_power_matches_the_joint_lp(de_lu: PriceSeries, fleet) -> None:  # type: ignore[no-untyped-def]
    request = _request(de_lu, fleet)
    result = plan_fleet(request)
    check_plan(request, result)
    reference = _reference(request)
    assert result.feasible == reference.feasible
    if reference.feasible:
        assert result.method in ("transportation-lp", "none")
        scale = max(1.0, sum(abs(s.price) * s.energy_kwh for v in result.vehicles
                             for s in v.charging_slots))
        assert abs(result.cost - reference.cost) <= 1e-6 * scale, (result.cost, reference.cost)
    else:
        shortfall = sum(v.shortfall_kwh for v in result.vehicles)
        assert abs(shortfall - reference.shortfall_kwh) <= 1e-6 * max(1.0, shortfall)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleet=fleets(min_power=True))
def test_minimum_power_matches_the_joint_milp(de_lu: PriceSeries, fleet) -> None:  # type: ignore[no-untyped-def]
    request = _request(de_lu, fleet)
    # at negative prices the reference would overshoot for profit, which the planner refuses
    assume(min(s.price for s in request.prices if s.price is not None) >= 0)
    result = plan_fleet(request)
    check_plan(request, result)
    reference = _reference(request)
    assert result.feasible == reference.feasible
    if reference.feasible:
        if result.method != "none":
            assert result.method == "highs-milp"
            assert result.mip_gap is not None and result.mip_gap <= 1e-5
        assert abs(result.cost - reference.cost) <= 1e-4 * max(1.0, abs(reference.cost))


def test_a_car_leaving_mid_slot_frees_no_power(de_lu: PriceSeries) -> None:
    """One slot, 00:00-00:15, 11 kW. A leaves at 00:05 and needs 11 kW for its 5 minutes; B
    needs 11 kW for 10 minutes. If A's leaving freed its power, both would fit (A first, then
    B). It does not: B holds one power for the whole slot, so the two share 11 kW, and the
    least shortfall gives B what it needs (its kW yields 3x the energy of A's) and A the rest."""
    now = datetime(2024, 3, 5, 0, 0, tzinfo=UTC)
    a = FleetVehicle("a", 0, 11 / 12, 100, now + timedelta(minutes=5), 11.0, efficiency=1.0)
    b = FleetVehicle("b", 0, 11 / 6, 100, now + timedelta(minutes=15), 11.0, efficiency=1.0)
    request = FleetRequest(now, 11.0, (a, b), de_lu.price_slots(now, b.departure))
    result = plan_fleet(request)
    check_plan(request, result)
    a_plan, b_plan = result.vehicles
    assert not result.feasible and not a_plan.feasible and b_plan.feasible
    assert abs(b_plan.charging_slots[0].power_kw - 22 / 3) <= 1e-6
    assert abs(a_plan.charging_slots[0].power_kw - 11 / 3) <= 1e-6
    assert abs(a_plan.shortfall_kwh - (11 / 12 - 11 / 36)) <= 1e-6
