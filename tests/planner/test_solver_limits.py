"""Issue 8: a solver that stops early is not a success, and equal prices plan earliest-first."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from optimizer.model import ChargePlan
from optimizer.planner import PlanOptions, PlanRequest, plan
from optimizer.planner import milp as milp_module
from optimizer.planner.milp import MilpResult
from optimizer.planner.problem import Problem
from optimizer.tariffs import PriceSeries
from tests.planner.conftest import slots

T0 = datetime(2024, 3, 4, 17, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
HARD = PlanOptions(min_run_minutes=60, start_penalty=0.3)
"""A week of real prices with a minimum power, runs and a start penalty: a real MILP."""


def _week(de_lu: PriceSeries) -> PlanRequest:
    return PlanRequest(now=T0, departure=T0 + WEEK, soc_pct=5.0, target_soc_pct=100.0,
                       capacity_kwh=100.0, max_power_kw=11.0, min_power_kw=4.1,
                       prices=de_lu.price_slots(T0, T0 + WEEK))


def test_highs_at_its_time_limit_is_never_optimal(
        de_lu: PriceSeries, monkeypatch: pytest.MonkeyPatch) -> None:
    """10: `kTimeLimit` was taken as optimal. With no time at all HiGHS cannot prove anything."""
    captured: list[Problem] = []
    real = milp_module.solve_milp

    def spy(problem: Problem, time_limit_s: float) -> MilpResult:
        captured.append(problem)
        return real(problem, time_limit_s)

    monkeypatch.setattr(milp_module, "solve_milp", spy)
    plan(_week(de_lu), HARD)
    found = milp_module.solve_milp(captured[0], time_limit_s=0.0)
    assert found.status == "Time limit reached"
    assert found.optimal is False


def test_a_time_limited_plan_says_it_may_not_be_optimal(
        de_lu: PriceSeries, monkeypatch: pytest.MonkeyPatch) -> None:
    """10: the best plan found is returned, feasible, with the time limit in `reason`."""
    real = milp_module.solve_milp

    def stopped_early(problem: Problem, time_limit_s: float) -> MilpResult:
        best = real(problem, time_limit_s)  # a real incumbent, as HiGHS would hold one
        return replace(best, status="Time limit reached", optimal=False)

    monkeypatch.setattr(milp_module, "solve_milp", stopped_early)
    result = plan(_week(de_lu), replace(HARD, time_limit_s=3.0))
    assert result.feasible is True
    assert result.soc_at_departure_pct == pytest.approx(100.0)
    assert result.reason is not None
    assert "3 s time limit" in result.reason and "may not be the cheapest" in result.reason
    assert result.method == "highs (Time limit reached)"


def test_no_incumbent_at_the_time_limit_is_reported(de_lu: PriceSeries) -> None:
    """10: without any solution in time, the plan says so instead of pretending."""
    result = plan(_week(de_lu), replace(HARD, time_limit_s=0.0))
    assert result.reason is not None and "Time limit reached" in result.reason


def _starts(result: ChargePlan) -> list[datetime]:
    return [s.start for s in result.charging_slots]


@pytest.mark.parametrize(
    "options",
    [PlanOptions(), PlanOptions(min_run_minutes=30), PlanOptions(start_penalty=0.1),
     PlanOptions(mode="block"), PlanOptions(opportunistic_limit_soc_pct=90,
                                            opportunistic_price_cap=0.5)],
)
@pytest.mark.parametrize("price", [None, 0.3])
def test_equal_prices_charge_as_early_as_possible(options: PlanOptions,
                                                  price: float | None) -> None:
    """12: with no price known (or one price everywhere) the MILP scattered the slots."""
    now = T0 + timedelta(minutes=7)
    request = PlanRequest(now=now, departure=now + timedelta(hours=14), soc_pct=30.0,
                          target_soc_pct=80.0, capacity_kwh=64.7, max_power_kw=11.04,
                          min_power_kw=4.14, prices=slots([price] * 15, T0))
    result = plan(request, replace(options, unknown_price=0.35 if price is None else None))
    starts = _starts(result)
    assert starts[0] == now
    ends = [s.end for s in result.charging_slots]
    assert starts[1:] == ends[:-1]  # one block, no gaps
    assert result.feasible
    if options.opportunistic_limit_soc_pct:  # the cap is above the price: worth taking
        assert result.soc_at_departure_pct == pytest.approx(90.0)
