"""The strategies on hand-made prices, where the right answer can be worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from optimizer.backtest.market import Market
from optimizer.backtest.sessions import Session
from optimizer.backtest.strategies import Charger, dumb, evcc_like, optimum, ours
from optimizer.planner import PlanOptions
from optimizer.prices.grid import PriceGrid, slot_index

T0 = datetime(2024, 5, 6, tzinfo=UTC)
FIRST = slot_index(T0)


def market(hourly: list[float]) -> Market:
    intervals = [(T0 + timedelta(hours=i), T0 + timedelta(hours=i + 1), p)
                 for i, p in enumerate(hourly)]
    return Market.build(PriceGrid.from_intervals(intervals), publication=None)


def rel(draw: dict[int, float]) -> dict[int, float]:
    return {slot - FIRST: round(kwh, 9) for slot, kwh in sorted(draw.items())}


def test_evcc_like_books_believed_hours_later_slots_first_and_stops_when_the_energy_is_in():
    # 8.5 kWh at 10 kW with efficiency 0.9: evcc books 8.5 * 0.9 / 0.85 / 10 = 0.9 h in the
    # cheapest hour (slots 4..7); ties go to later slots, the first slot is trimmed at its start.
    prices = market([0.3, 0.1, 0.2, 0.4])
    session = Session(1, T0, T0 + timedelta(hours=4), 8.5)
    draw = evcc_like(session, Charger(10.0, efficiency=0.9), prices)
    assert rel(draw) == {4: 1.5, 5: 2.5, 6: 2.5, 7: 2.0}


def test_evcc_like_under_books_when_the_car_is_less_efficient_than_it_believes():
    prices = market([0.3, 0.1, 0.2, 0.4])
    tight = Session(1, T0 + timedelta(hours=3), T0 + timedelta(hours=4), 9.0)
    draw = evcc_like(tight, Charger(10.0, efficiency=0.7), prices)
    # it books 9 * 0.7 / 0.85 / 10 h and re-plans each slot, but the hour runs out first
    assert sum(draw.values()) < 9.0 - 0.5
    assert sum(dumb(tight, Charger(10.0)).values()) == pytest.approx(9.0)


def test_dumb_ours_and_optimum_on_known_prices():
    prices = market([0.3, 0.1, 0.2, 0.4])
    session = Session(1, T0 + timedelta(minutes=7), T0 + timedelta(hours=4), 12.0)
    charger = Charger(10.0)
    first_piece = 10.0 * 8 / 60  # 00:07-00:15 at 10 kW
    assert rel(dumb(session, charger))[0] == pytest.approx(first_piece)
    best = optimum(session, charger, prices, PlanOptions())
    assert rel(best) == {4: 2.5, 5: 2.5, 6: 2.5, 7: 2.5, 8: 2.0}  # the 0.1 hour, then 0.2
    assert ours(session, charger, prices, PlanOptions()) == best
