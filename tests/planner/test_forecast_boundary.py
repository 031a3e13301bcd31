"""Prices past `forecast_from` are a forecast: planned on, and flagged provisional, alone and
jointly under a site limit; without the boundary the same prices count as published."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from optimizer.planner import PlanRequest, plan
from optimizer.planner.site import SiteRequest, plan_site
from tests.planner.conftest import slots

NOW = datetime(2024, 3, 5, 18, 0, tzinfo=UTC)
# dear this evening (published), cheap after midnight (forecast from 00:00)
PRICES = slots([0.40] * 6 + [0.10] * 6, NOW)
MIDNIGHT = NOW + timedelta(hours=6)


def request(forecast_from: datetime | None) -> PlanRequest:
    return PlanRequest(now=NOW, departure=NOW + timedelta(hours=12), soc_pct=20,
                       target_soc_pct=40, capacity_kwh=100, max_power_kw=11, efficiency=1.0,
                       prices=PRICES, forecast_from=forecast_from)


def test_slots_past_the_boundary_are_provisional_and_the_reason_says_forecast() -> None:
    result = plan(request(MIDNIGHT))
    assert result.feasible and result.provisional
    assert all(s.start >= MIDNIGHT for s in result.charging_slots)
    assert all(s.provisional == (s.start >= MIDNIGHT) for s in result.slots)
    assert result.reason is not None and "forecast" in result.reason
    assert "fallback" not in result.reason
    published = plan(request(None))
    assert not published.provisional and published.reason is None
    assert [s.power_kw for s in published.slots] == [s.power_kw for s in result.slots]


def test_a_joint_plan_flags_the_forecast_too() -> None:
    requests = {"a": SiteRequest(request(MIDNIGHT)), "b": SiteRequest(request(MIDNIGHT))}
    joint = plan_site(requests, 11.0, NOW)
    for result in joint.values():
        assert result.method.startswith("site:") and result.provisional
        assert all(s.provisional == (s.start >= MIDNIGHT) for s in result.slots)
