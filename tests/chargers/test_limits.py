"""Plan -> current conversion, checked against the slot-by-slot definition (hypothesis)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.chargers.limits import CurrentRange, current_at, plan_periods, step_down
from optimizer.chargers.ocpp_charger import schedule_matches
from optimizer.chargers.ocpp_common import CompositeSchedule
from optimizer.model import SLOT
from tests.chargers.conftest import T0, make_plan

RANGE = CurrentRange(phases=3, voltage_v=230.0, min_current_a=6.0, max_current_a=16.0)
powers = st.lists(st.one_of(st.just(0.0), st.floats(0.0, 15.0, allow_nan=False)),
                  min_size=1, max_size=40)


def test_current_range_edges() -> None:
    assert RANGE.clamp_a(0.0) == 0.0
    assert RANGE.clamp_a(5.99) == 0.0  # below the minimum is off, never a trickle
    assert RANGE.clamp_a(6.0) == 6.0
    assert RANGE.clamp_a(40.0) == 16.0
    assert RANGE.current_for_power_a(11.04) == pytest.approx(16.0)
    assert RANGE.current_for_power_a(4.14) == pytest.approx(6.0)


@settings(max_examples=200, deadline=None)
@given(powers, st.sampled_from([None, 1]))
def test_periods_give_every_slot_its_own_current(powers_kw: list[float],
                                                 decimals: int | None) -> None:
    plan = make_plan(T0, powers_kw)
    periods = plan_periods(plan, RANGE, decimals=decimals)
    assert periods[0].start == plan.slots[0].start
    assert periods[-1].end == plan.slots[-1].end
    for before, after in itertools.pairwise(periods):
        assert before.end == after.start  # contiguous
        assert before.current_a != after.current_a  # equal neighbours merged
    for slot in plan.slots:
        expected = RANGE.current_for_power_a(slot.power_kw)
        if decimals is not None:
            expected = RANGE.clamp_a(step_down(expected, decimals))
            assert expected <= RANGE.current_for_power_a(slot.power_kw)  # never above the plan
        for at in (slot.start, slot.start + SLOT / 2, slot.end - timedelta(seconds=1)):
            assert current_at(periods, at) == expected
    assert current_at(periods, plan.slots[-1].end) == 0.0  # after the plan: off


@settings(max_examples=200, deadline=None)
@given(powers, st.integers(0, 39), st.data())
def test_composite_check_accepts_split_schedules_and_catches_any_change(
        powers_kw: list[float], now_slot: int, data: st.DataObject) -> None:
    plan = make_plan(T0, powers_kw)
    periods = plan_periods(plan, RANGE)
    now = T0 + min(now_slot, len(powers_kw) - 1) * SLOT + timedelta(seconds=7)
    duration_s = int((periods[-1].end - now).total_seconds())
    # What a station reports: the plan from `now`, possibly split at arbitrary extra instants.
    cuts = data.draw(st.lists(st.integers(1, duration_s - 1), max_size=5)) if duration_s > 1 else []
    instants = sorted({0, *cuts, *(int((p.start - now).total_seconds()) for p in periods
                                    if p.start > now)})
    reported = tuple((s, current_at(periods, now + timedelta(seconds=s))) for s in instants)
    assert schedule_matches(periods, CompositeSchedule(now, duration_s, reported))
    # Any one period changed by 0.1 A or more is a mismatch.
    index = data.draw(st.integers(0, len(reported) - 1))
    start_s, limit_a = reported[index]
    changed = (*reported[:index], (start_s, limit_a + 0.1), *reported[index + 1:])
    assert not schedule_matches(periods, CompositeSchedule(now, duration_s, changed))


@pytest.mark.parametrize(("current_a", "expected_a"), [
    (16.0, 16.0), (15.9999999, 16.0), (15.96, 15.9), (16.04, 16.0), (6.05, 6.0), (7.3, 7.3)])
def test_a_limit_is_rounded_down_to_its_step(current_a: float, expected_a: float) -> None:
    """Two cars on one site each get their share rounded down, so that together they never
    draw more than the site; a value a hair below a step is on it."""
    assert step_down(current_a, 1) == expected_a
