"""The plan's JSON text is written by hand for speed: it must be what `json` would write."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.commands.plan import dump_json, plan_json_text, plan_to_json
from optimizer.model import PlannedSlot
from optimizer.planner import PlanRequest, plan
from optimizer.planner.plan_json import charging_slots_text, iso_text
from optimizer.tariffs import PriceSeries


def _slot(power: float, energy: float, price: float, provisional: bool = False) -> PlannedSlot:
    start = datetime(2024, 3, 5, 22, 0, tzinfo=timezone(timedelta(hours=1)))
    return PlannedSlot(start, start + timedelta(minutes=15), power, energy, price, provisional,
                       20.0, 21.0)


def _as_json(slot: PlannedSlot) -> dict[str, object]:
    item: dict[str, object] = {"start": slot.start.isoformat(), "end": slot.end.isoformat(),
                               "power_kw": slot.power_kw, "energy_kwh": slot.energy_kwh,
                               "price": slot.price}
    if slot.provisional:
        item["provisional"] = True
    return item


def test_slot_text_is_the_text_json_writes() -> None:
    slots = [_slot(11.0, 2.75, 0.1234), _slot(4, 1, -0.0), _slot(0.1 + 0.2, 1e-5, 1e3, True),
             _slot(0.0, 0.0, 0.3)]  # the last one does not charge
    assert charging_slots_text(slots) == json.dumps([_as_json(s) for s in slots[:3]])


def test_numpy_numbers_are_written_as_plain_numbers() -> None:
    # numpy 2 writes repr(np.float64(0.5)) as "np.float64(0.5)": never in the JSON
    slots = [_slot(np.float64(7.5), np.float64(1.875), np.float64(0.25))]
    assert json.loads(charging_slots_text(slots)) == [_as_json(_slot(7.5, 1.875, 0.25))]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_number_that_is_not_finite_is_refused_like_json_refuses_it(bad: float) -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        charging_slots_text([_slot(11.0, bad, 0.2)])


def test_a_plan_is_the_same_as_json_of_its_values(de_lu: PriceSeries) -> None:
    now = datetime(2024, 3, 5, 17, 7, tzinfo=UTC)
    departure = now + timedelta(hours=14)
    result = plan(PlanRequest(now=now, departure=departure, soc_pct=20, target_soc_pct=80,
                              capacity_kwh=76.4, max_power_kw=11, min_power_kw=4.1,
                              prices=de_lu.price_slots(now, departure)))
    text = plan_json_text(result)
    assert len(result.charging_slots) > 3
    assert dump_json(json.loads(text)) == text == dump_json(plan_to_json(result))
    assert [s["start"] for s in json.loads(text)["slots"]] == [
        s.start.isoformat() for s in result.charging_slots]


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(st.integers(0, 4_102_444_800).map(float),  # 1970 to 2100, whole seconds
              st.floats(0, 4_102_444_800, allow_nan=False)),
    st.one_of(st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m))),
              st.integers(-50_000, 50_000).map(lambda s: timezone(timedelta(seconds=s))),
              st.just(UTC), st.just(ZoneInfo("Europe/Berlin"))),
)
def test_iso_text_is_what_datetime_writes(stamp: float, tz: tzinfo) -> None:
    assert iso_text(stamp, tz) == datetime.fromtimestamp(stamp, tz).isoformat()
