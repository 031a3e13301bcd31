"""Behaviour at the edges: negative prices, impossible targets, past departures, buffers,
minimum SoC, opportunistic charging, runs, penalties and the taper."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.errors import InputError
from optimizer.model import ChargePlan, TaperPoint
from optimizer.planner import PlanOptions, PlanRequest, plan
from tests.planner.conftest import slots

T0 = datetime(2024, 3, 5, 18, 0, tzinfo=UTC)
H = timedelta(hours=1)
Q = timedelta(minutes=15)


def _request(prices: list[float], **changes: object) -> PlanRequest:
    base = PlanRequest(
        now=T0, departure=T0 + len(prices) * H, soc_pct=30.0, target_soc_pct=80.0,
        capacity_kwh=76.4, max_power_kw=11.0, efficiency=0.9, prices=slots(prices, T0),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _runs(result: ChargePlan) -> list[list[int]]:
    """Maximal runs of consecutive charging slots, as lists of slot indices."""
    runs: list[list[int]] = []
    for index, slot in enumerate(result.slots):
        if slot.power_kw > 0:
            if runs and runs[-1][-1] == index - 1:
                runs[-1].append(index)
            else:
                runs.append([index])
    return runs


def test_negative_prices_are_used_first_but_never_beyond_the_target() -> None:
    prices = [0.30, -0.05, 0.25, -0.10, 0.20, 0.28, 0.31, 0.33, 0.29, 0.27, 0.26, 0.24]
    result = plan(_request(prices))
    assert result.feasible
    assert result.soc_at_departure_pct == pytest.approx(80.0)
    charged_hours = {s.start.hour for s in result.charging_slots}
    assert {T0.hour + 1, T0.hour + 3} <= charged_hours
    assert result.cost < sum(s.energy_kwh * 0.2 for s in result.charging_slots)


def test_opportunistic_charging_above_target_only_below_the_cap() -> None:
    prices = [0.30, -0.05, 0.25, -0.10, 0.20, 0.28, 0.31, 0.33, 0.29, 0.27, 0.26, 0.24]
    options = PlanOptions(opportunistic_limit_soc_pct=100.0, opportunistic_price_cap=0.0)
    # A small need leaves room in the negative hours for energy above the target.
    result = plan(_request(prices, target_soc_pct=40.0), options)
    base = plan(_request(prices, target_soc_pct=40.0))
    assert result.soc_at_departure_pct > base.soc_at_departure_pct
    assert result.soc_at_departure_pct <= 100.0 + 1e-9
    extra = {s.start for s in result.charging_slots} - {s.start for s in base.charging_slots}
    for slot in result.charging_slots:
        if slot.start in extra:
            assert slot.price < 0.0
    for milp_options in (replace(options, min_run_minutes=30),):
        constrained = plan(_request(prices, target_soc_pct=40.0), milp_options)
        assert constrained.soc_at_departure_pct > base.soc_at_departure_pct


def test_unreachable_target_charges_at_full_power_from_now() -> None:
    result = plan(_request([0.3, 0.1], soc_pct=10.0))
    assert not result.feasible
    assert all(s.power_kw == pytest.approx(11.0) for s in result.slots)
    expected = 10.0 + 22.0 * 0.9 / 76.4 * 100
    assert result.soc_at_departure_pct == pytest.approx(expected)
    assert "cannot be reached" in (result.reason or "")
    assert f"{expected:.1f}%" in (result.reason or "")


def test_departure_already_passed() -> None:
    result = plan(_request([0.3], departure=T0 - H))
    assert not result.feasible and result.slots == ()
    assert result.reason == "departure already passed; nothing to plan"


def test_soc_already_above_target() -> None:
    result = plan(_request([0.3] * 4, soc_pct=85.0))
    assert result.feasible and result.slots == () and result.cost == 0.0
    assert "already at or above the target" in (result.reason or "")


def test_buffer_finishes_early_when_it_can() -> None:
    prices = [0.30] * 10 + [0.05, 0.05]  # the cheapest hours are the last two
    plain = plan(_request(prices))
    buffered = plan(_request(prices), PlanOptions(buffer_minutes=120))
    assert plain.charging_slots[-1].end == T0 + 12 * H
    assert buffered.charging_slots[-1].end <= T0 + 10 * H
    assert buffered.feasible and buffered.reason is None


def test_buffer_is_used_when_the_target_needs_it() -> None:
    request = _request([0.3] * 5)  # 5 h at 11 kW = 55 kWh; 42.4 kWh needed
    result = plan(request, PlanOptions(buffer_minutes=180))
    assert result.feasible
    assert "safety buffer is partly used" in (result.reason or "")
    assert result.soc_at_departure_pct == pytest.approx(80.0)


def test_min_soc_is_charged_immediately_whatever_the_price() -> None:
    prices = [0.90, 0.90, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05]
    result = plan(_request(prices, soc_pct=10.0), PlanOptions(min_soc_pct=25.0))
    first = result.slots[0]
    assert first.start == T0 and first.power_kw == pytest.approx(11.0)
    reached = next(s for s in result.slots if s.soc_end_pct >= 25.0 - 1e-9)
    assert all(s.power_kw == pytest.approx(11.0) for s in result.slots
               if s.start < reached.start)
    assert result.soc_at_departure_pct == pytest.approx(80.0)


def test_block_mode_is_one_contiguous_run() -> None:
    prices = [0.30, 0.10, 0.40, 0.12, 0.11, 0.35, 0.09, 0.50]
    result = plan(_request(prices), PlanOptions(mode="block"))
    assert result.feasible and len(_runs(result)) == 1


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0.01, 0.6), min_size=6, max_size=24),
    st.integers(2, 6),
    st.floats(10.0, 60.0),
)
def test_every_run_lasts_the_minimum_unless_departure_cuts_it(
    prices: list[float], run_slots: int, soc: float
) -> None:
    request = _request(prices, soc_pct=soc, min_power_kw=4.1)
    result = plan(request, PlanOptions(min_run_minutes=15 * run_slots))
    assert result.feasible
    last = len(result.slots) - 1
    for run in _runs(result):
        assert len(run) >= run_slots or run[-1] == last


def test_start_penalty_reduces_starts() -> None:
    prices = [0.10, 0.30, 0.10, 0.30, 0.10, 0.30, 0.10, 0.30, 0.10, 0.30]
    request = _request(prices, soc_pct=50.0, target_soc_pct=80.0, min_power_kw=4.1)
    free = plan(request)
    penalised = plan(request, PlanOptions(start_penalty=5.0))
    assert len(_runs(penalised)) == 1 < len(_runs(free))
    assert penalised.feasible


def test_charging_now_is_not_a_new_start() -> None:
    prices = [0.20, 0.10, 0.10, 0.10, 0.40, 0.40]
    request = _request(prices, soc_pct=60.0, min_power_kw=4.1)
    idle = plan(request, PlanOptions(start_penalty=1.0))
    running = plan(request, PlanOptions(start_penalty=1.0, charging_now=True))
    assert idle.slots[0].power_kw == 0.0
    assert running.slots[0].power_kw > 0.0


def test_taper_limits_power_near_full_and_still_reaches_the_target() -> None:
    taper = (TaperPoint(80.0, 11.0), TaperPoint(100.0, 2.0))
    request = _request([0.3, 0.1, 0.1, 0.3, 0.3, 0.3], soc_pct=50.0, target_soc_pct=98.0,
                       taper=taper)
    result = plan(request)
    assert result.feasible
    assert result.soc_at_departure_pct == pytest.approx(98.0)
    for slot in result.charging_slots:
        allowed = 11.0 if slot.soc_end_pct <= 80 else 11.0 - 9.0 * (slot.soc_end_pct - 80) / 20
        assert slot.power_kw <= allowed + 1e-6


def test_rising_or_convex_taper_is_rejected_with_the_culprit() -> None:
    with pytest.raises(InputError, match="may only fall"):
        plan(_request([0.3] * 4, taper=(TaperPoint(50, 5.0), TaperPoint(80, 11.0))))
    with pytest.raises(InputError, match="concave"):
        plan(_request([0.3] * 4, taper=(TaperPoint(50, 11.0), TaperPoint(60, 5.0),
                                         TaperPoint(100, 4.0))))


@pytest.mark.parametrize(
    ("change", "culprit"),
    [
        ({"soc_pct": 120.0}, "soc"),
        ({"capacity_kwh": 0.0}, "capacity"),
        ({"min_power_kw": 20.0}, "min_power"),
        ({"efficiency": 1.5}, "efficiency"),
        ({"now": datetime(2024, 3, 5, 18)}, "now must be timezone-aware"),
    ],
)
def test_bad_requests_name_the_culprit(change: dict[str, object], culprit: str) -> None:
    with pytest.raises((InputError, ValueError), match=culprit):
        plan(_request([0.3] * 4, **change))


def test_slots_partition_now_to_departure() -> None:
    now = T0 + timedelta(minutes=7)
    result = plan(_request([0.3, 0.2, 0.1, 0.4], now=now, soc_pct=70.0))
    assert result.slots[0].start == now
    assert result.slots[0].end == T0 + Q
    assert result.slots[-1].end == T0 + 4 * H
    for a, b in zip(result.slots, result.slots[1:], strict=False):
        assert a.end == b.start


@pytest.mark.parametrize("min_power_kw", [0.0, 4.14])
def test_equal_prices_charge_from_now_even_in_the_last_minutes_of_a_slot(
    min_power_kw: float,
) -> None:
    """Ties go to the earlier slot: with one price everywhere the plan starts at `now`, also
    when `now` is two minutes before a slot boundary (the min-power search used to prefer the
    next whole slot, so a car plugged in at 23:13 waited until 23:15)."""
    now = datetime(2024, 3, 5, 23, 13, tzinfo=UTC)
    request = PlanRequest(
        now=now, departure=now + timedelta(hours=8), soc_pct=30.0, target_soc_pct=60.0,
        capacity_kwh=64.7, max_power_kw=11.0, min_power_kw=min_power_kw,
        prices=slots([0.1] * 16 + [0.4] * 20, datetime(2024, 3, 5, 23, tzinfo=UTC), minutes=15),
    )
    result = plan(request, PlanOptions())
    assert result.feasible
    assert result.charging_slots[0].start == now


@pytest.mark.parametrize("min_run_minutes", [0, 30])
def test_one_price_everywhere_with_a_minimum_power_buys_the_least_energy(
    min_run_minutes: int,
) -> None:
    """With a minimum power the energy is not fixed: a slot on at 17 kW may overshoot the need.
    Prices by position (the earliest plan wins) made the overshoot in the first slot look
    free, so the plan bought 25.2 kWh where 21.5 kWh do; the cheapest plan comes first, and of
    the cheapest the earliest (found by hypothesis against the MILP reference)."""
    now = datetime(2024, 3, 5, 17, 1, tzinfo=UTC)
    request = PlanRequest(
        now=now, departure=now + timedelta(hours=2), soc_pct=0.0, target_soc_pct=37.0,
        capacity_kwh=58.0, max_power_kw=17.0, min_power_kw=17.0, efficiency=1.0,
        prices=slots([0.01] * 4, datetime(2024, 3, 5, 17, tzinfo=UTC)),
    )
    result = plan(request, PlanOptions(min_run_minutes=min_run_minutes))
    need_kwh = 0.37 * 58.0
    # the whole quarters 17:15-18:15 (4 x 4.25 kWh) and the 16 minutes to 19:01 (4.53 kWh)
    assert result.energy_kwh == pytest.approx(17.0 + 17.0 * 16 / 60, abs=1e-6)
    assert need_kwh <= result.energy_kwh < need_kwh + 0.1
    assert result.cost == pytest.approx(0.01 * result.energy_kwh, rel=1e-9)
