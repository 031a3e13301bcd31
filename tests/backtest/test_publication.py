"""`ours` and `evcc_like` never use a price before it is published, and never miss a feasible
session whatever the unpublished prices turn out to be."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.backtest.market import Market
from optimizer.backtest.sessions import Session
from optimizer.backtest.strategies import Charger, evcc_like, ours
from optimizer.planner import PlanOptions
from optimizer.prices.grid import PriceGrid, slot_index
from optimizer.prices.schedule import Publication

BRUSSELS = ZoneInfo("Europe/Brussels")
START = datetime(2024, 4, 1, tzinfo=BRUSSELS).astimezone(UTC)
DAYS = 30


def grid_with(tomorrow: list[float]) -> PriceGrid:
    """29 days of a daily pattern, then day 30 (the unpublished one) as given, hourly."""
    hours = [0.20 + 0.1 * np.sin(h / 24 * 2 * np.pi) + 0.01 * (d % 3)
             for d in range(DAYS - 1) for h in range(24)]
    hours += tomorrow
    intervals = [(START + timedelta(hours=i), START + timedelta(hours=i + 1), float(p))
                 for i, p in enumerate(hours)]
    return PriceGrid.from_intervals(intervals)


PLUG_IN = datetime.combine(START.astimezone(BRUSSELS).date() + timedelta(days=DAYS - 2),
                           time(10, 0), tzinfo=BRUSSELS)
DEPARTURE = PLUG_IN + timedelta(hours=21)
PUBLISHED = PLUG_IN.replace(hour=12, minute=45)


def drawn_before(draw: dict[int, float], at: datetime) -> dict[int, float]:
    return {slot: kwh for slot, kwh in draw.items() if slot < slot_index(at)}


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-0.5, 1.0), min_size=24, max_size=24),
       st.floats(1.0, 60.0))
def test_what_ours_does_before_publication_does_not_depend_on_unpublished_prices(
    tomorrow, energy_kwh
):
    session = Session(1, PLUG_IN.astimezone(UTC), DEPARTURE.astimezone(UTC), energy_kwh)
    charger = Charger(11.0)
    flat = Market.build(grid_with([0.25] * 24), Publication())
    other = Market.build(grid_with(tomorrow), Publication())
    for run in (lambda m: ours(session, charger, m, PlanOptions()),
                lambda m: evcc_like(session, charger, m)):
        a, b = run(flat), run(other)
        assert drawn_before(a, PUBLISHED) == drawn_before(b, PUBLISHED)
        # whatever tomorrow brings, the energy is in by departure (21 h × 11 kW is plenty)
        assert sum(b.values()) >= energy_kwh - 1e-3


def test_forecast_is_made_from_published_prices_only():
    market = Market.build(grid_with([5.0] * 24), Publication())
    first = slot_index(PLUG_IN)
    last = slot_index(DEPARTURE)
    values, known = market.believed(PLUG_IN, first, last)
    assert known == slot_index(PUBLISHED.replace(hour=0, minute=0) + timedelta(days=1))
    assert np.all(values[known - first :] < 1.0)  # the 5.0 of the unpublished day is not seen
    after, known_after = market.believed(PUBLISHED, first, last)
    assert known_after >= last and np.all(after[known - first :] == 5.0)


def test_publication_follows_local_days_across_dst():
    publication = Publication()
    before = datetime(2024, 3, 30, 12, 0, tzinfo=BRUSSELS)
    after = datetime(2024, 3, 30, 13, 0, tzinfo=BRUSSELS)
    assert publication.known_until(before) == datetime(2024, 3, 31, tzinfo=BRUSSELS)
    # tomorrow is the 23-hour DST day; its end is local midnight of 1 April
    assert publication.known_until(after) == datetime(2024, 4, 1, tzinfo=BRUSSELS)
    assert publication.next_after(after) == datetime(2024, 3, 31, 12, 45, tzinfo=BRUSSELS)
    london = Publication(time(16, 0), ZoneInfo("Europe/London"))
    assert london.moment(datetime(2024, 7, 1).date()) == datetime(2024, 7, 1, 15, tzinfo=UTC)
