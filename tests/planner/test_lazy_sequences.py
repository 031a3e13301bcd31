"""PriceWindow and SlotTable are sequences of the domain objects they stand for: the same
items, indices, slices, lengths and equality as the tuples and lists they replace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from optimizer.model import SLOT, PriceSlot
from optimizer.planner import PlanRequest, plan
from optimizer.tariffs import PriceSeries


def test_price_window_matches_a_slot_by_slot_lookup(de_lu: PriceSeries) -> None:
    start = datetime(2024, 3, 5, 17, 7, 31, tzinfo=UTC)
    end = start + timedelta(hours=30)
    window = de_lu.price_slots(start, end)
    expected = []
    at = datetime(2024, 3, 5, 17, 0, tzinfo=UTC)
    while at < end:
        expected.append(PriceSlot(at, at + SLOT, de_lu.price_at(at)))
        at += SLOT
    assert list(window) == expected
    assert window == expected
    assert len(window) == len(expected) == 121  # 17:00 to 23:00 the next day
    assert window[-1] == expected[-1]
    assert list(window[3:7]) == expected[3:7]


def test_price_window_past_the_series_is_unknown(de_lu: PriceSeries) -> None:
    start = de_lu.end - timedelta(hours=1)
    window = de_lu.price_slots(start, start + timedelta(hours=3))
    assert [s.price is None for s in window] == [False] * 4 + [True] * 8


def test_a_plans_slot_table_behaves_like_its_tuple(de_lu: PriceSeries) -> None:
    now = datetime(2024, 3, 5, 17, 7, tzinfo=UTC)
    departure = now + timedelta(hours=12)
    result = plan(PlanRequest(now=now, departure=departure, soc_pct=20, target_soc_pct=80,
                              capacity_kwh=60, max_power_kw=11,
                              prices=de_lu.price_slots(now, departure)))
    slots = tuple(result.slots)
    assert len(result.slots) == len(slots) == 49  # 17:07-17:15, 47 whole, 05:00-05:07
    assert result.slots == slots and slots == result.slots
    assert result.slots[0].start == now and result.slots[-1].end == departure
    assert result.slots[-1] == slots[-1] and result.slots[5:9] == slots[5:9]
    assert all(a.end == b.start for a, b in pairwise(slots))
    assert all(a.soc_end_pct == b.soc_start_pct for a, b in pairwise(slots))
    assert result.charging_slots == tuple(s for s in slots if s.power_kw > 0)
    with pytest.raises(IndexError):
        result.slots[49]
