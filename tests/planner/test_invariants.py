"""Whatever the request and options: the plan is well-formed and honest.

Every combination of options is drawn, so solver routing (greedy, min-power, MILP) and the
special cases (buffer, forced minimum SoC, opportunistic energy, unknown prices) all meet the
same invariants.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from optimizer.model import PriceSlot, TaperPoint
from optimizer.planner import PlanOptions, PlanRequest, plan
from optimizer.planner.taper import power_limit

T0 = datetime(2024, 10, 26, 20, 0, tzinfo=UTC)


@st.composite
def cases(draw: st.DrawFn) -> tuple[PlanRequest, PlanOptions]:
    hours = draw(st.integers(1, 20))
    known = draw(st.integers(0, hours))
    prices = draw(st.lists(st.floats(-0.3, 0.9, allow_nan=False), min_size=known,
                           max_size=known))
    price_slots = [PriceSlot(T0 + i * timedelta(hours=1), T0 + (i + 1) * timedelta(hours=1), p)
                   for i, p in enumerate(prices)]
    now = T0 + timedelta(minutes=draw(st.integers(0, 50)))
    departure = T0 + timedelta(minutes=draw(st.integers(-30, hours * 60)))
    max_kw = draw(st.floats(1.4, 22.0))
    taper = ()
    if draw(st.booleans()):
        knee = draw(st.floats(50.0, 95.0))
        taper = (TaperPoint(knee, max_kw), TaperPoint(100.0, draw(st.floats(0.5, max_kw))))
    request = PlanRequest(
        now=now, departure=departure, soc_pct=draw(st.floats(0, 100)),
        target_soc_pct=draw(st.floats(0, 100)), capacity_kwh=draw(st.floats(5, 120)),
        max_power_kw=max_kw, min_power_kw=draw(st.sampled_from([0.0, 1.4, 4.1])) if max_kw >= 4.1
        else 0.0,
        efficiency=draw(st.floats(0.6, 1.0)), taper=taper, prices=price_slots,
    )
    options = PlanOptions(
        mode=draw(st.sampled_from(["cheapest", "block"])),
        min_run_minutes=draw(st.sampled_from([0, 30, 60])),
        start_penalty=draw(st.sampled_from([0.0, 0.5])),
        buffer_minutes=draw(st.sampled_from([0, 20, 60])),
        min_soc_pct=draw(st.sampled_from([0.0, 30.0])),
        opportunistic_limit_soc_pct=draw(st.sampled_from([None, 90.0])),
        opportunistic_price_cap=draw(st.sampled_from([0.0, 0.2])),
        unknown_price=draw(st.sampled_from([None, 0.35])),
        charging_now=draw(st.booleans()),
    )
    return request, options


HOUR = timedelta(hours=1)


# Two plans hypothesis found (seen failing on main): HiGHS's default 1e-6 feasibility tolerance
# let the MILP's "earliest of equal cost" solve put 1.25 + 5e-7 kWh into a 1.25 kWh slot (above
# max power), and 7e-8 kWh crumbs into "off" slots that the plan then drops, missing the target
# by that much ("internal error", feasible false).
@example(case=(
    PlanRequest(now=T0, departure=T0 + timedelta(hours=4, minutes=28), soc_pct=0.0,
                target_soc_pct=28.0, capacity_kwh=36.0, max_power_kw=5.0, efficiency=1.0,
                prices=[PriceSlot(T0, T0 + HOUR, 0.25), PriceSlot(T0 + HOUR, T0 + 2 * HOUR, 0.0)],
                taper=(TaperPoint(50.0, 5.0), TaperPoint(100.0, 1.0))),
    PlanOptions(min_run_minutes=30),
))
@example(case=(
    PlanRequest(now=T0, departure=T0 + timedelta(hours=2, minutes=31), soc_pct=0.0,
                target_soc_pct=11.0, capacity_kwh=6.0, max_power_kw=5.0, efficiency=1.0,
                prices=[PriceSlot(T0, T0 + HOUR, 0.5)]),
    PlanOptions(min_run_minutes=30, unknown_price=0.35),
))
@settings(max_examples=250, deadline=None)
@given(cases())
def test_plans_are_well_formed_and_honest(case: tuple[PlanRequest, PlanOptions]) -> None:
    request, options = case
    result = plan(request, options)
    if request.departure <= request.now:
        assert result.slots == ()
        return
    if result.slots:
        assert result.slots[0].start == request.now
        assert result.slots[-1].end == request.departure
    # Near full a taper may allow less than the charger's minimum: the car takes what it can.
    limit = power_limit(request.max_power_kw, request.taper)
    floor = min(request.min_power_kw, limit.at(request.target_soc_pct))
    soc = request.soc_pct
    for a, b in zip(result.slots, result.slots[1:], strict=False):
        assert a.end == b.start
    for slot in result.slots:
        hours = (slot.end - slot.start) / timedelta(hours=1)
        assert abs(slot.energy_kwh - slot.power_kw * hours) < 1e-9
        assert slot.power_kw == 0 or floor - 1e-6 <= slot.power_kw <= request.max_power_kw + 1e-6
        assert abs(slot.soc_start_pct - soc) < 1e-9
        assert slot.soc_end_pct <= 100.0 + 1e-9
        soc = slot.soc_end_pct
    assert abs(result.soc_at_departure_pct - soc) < 1e-9
    if result.feasible:
        assert result.soc_at_departure_pct >= request.target_soc_pct - 1e-6
    else:
        assert result.reason
        # Not feasible: every slot charges as hard as the car allows.
        assert all(s.power_kw > 0 or s.soc_start_pct >= 100 - 1e-6 for s in result.slots)
    assert abs(result.cost - sum(s.energy_kwh * s.price for s in result.slots)) < 1e-6
    provisional = any(s.provisional and s.power_kw > 0 for s in result.slots)
    assert result.provisional == provisional
