"""The four charging strategies of the backtest, each run on one session.

Every strategy returns the energy it drew in each 15-minute slot (grid side), which the runner
prices at the true price. What each one may see is the point of the exercise:

* `dumb`: nothing; full power from plug-in until the energy is in.
* `evcc_like`: the prices published so far; it believes the efficiency is 0.85, so it books
  `energy × efficiency / 0.85 / max_power` hours at full power in the cheapest published slots
  (later slot first on a tie, as evcc sorts) and stops once the energy is in. Where the time
  after the published prices could hold the hours, it books them there, as late as possible
  (evcc plans nothing yet: the car can charge after the known prices); else only the rest goes
  into the published slots. Like evcc, which re-plans every cycle, it plans again when prices
  are published, and at every slot while its booked hours fall short of the energy.
* `ours`: the real planner (`optimizer.planner.plan`) as the service runs it: at plug-in with
  the published prices plus the forecast, and again at every publication until departure.
* `optimum`: the same planner once, with every true price (perfect foresight).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from optimizer.backtest.market import Market, as_price_slots
from optimizer.backtest.sessions import Session
from optimizer.model import PriceSlot
from optimizer.planner import PlanOptions, PlanRequest, plan
from optimizer.planner.planner import ENERGY_RESOLUTION_KWH
from optimizer.prices.grid import SLOT_S, FloatArray, slot_index

EVCC_BELIEVED_EFFICIENCY = 0.85
_MAX_REPLANS = 64

Draw = dict[int, float]
"""Grid-side kWh drawn per absolute slot number."""


@dataclass(frozen=True, slots=True)
class Charger:
    max_power_kw: float
    min_power_kw: float = 0.0
    efficiency: float = 0.9


def _segments(start_s: float, end_s: float) -> list[tuple[int, float]]:
    """(slot, hours) pieces of `[start_s, end_s)` cut at the 15-minute marks."""
    out = []
    at = start_s
    while at < end_s - 1e-6:
        slot = math.floor(at / SLOT_S)
        stop = min(end_s, (slot + 1) * SLOT_S)
        out.append((slot, (stop - at) / 3600.0))
        at = stop
    return out


def _add(draw: Draw, slot: int, kwh: float) -> None:
    if kwh > 0.0:
        draw[slot] = draw.get(slot, 0.0) + kwh


def dumb(session: Session, charger: Charger) -> Draw:
    draw: Draw = {}
    remaining = session.energy_kwh
    for slot, hours in _segments(session.arrival.timestamp(), session.departure.timestamp()):
        if remaining <= ENERGY_RESOLUTION_KWH:
            break
        take = min(remaining, charger.max_power_kw * hours)
        _add(draw, slot, take)
        remaining -= take
    return draw


def _evcc_booking(
    market: Market, now_s: float, end_s: float, hours_needed: float, known: int
) -> list[tuple[float, float]]:
    """evcc's plan: (start, end) intervals at full power, in time order."""
    pieces = _segments(now_s, end_s)
    published = [(slot, h) for slot, h in pieces if slot < known]
    unpublished_h = sum(h for slot, h in pieces if slot >= known)
    # The part that cannot fit before the published end is assumed to happen after it, as late
    # as possible (evcc cuts the horizon at the last rate and plans only the remainder).
    late_h = min(hours_needed, unpublished_h)
    wanted_h = hours_needed - late_h
    booked: list[tuple[float, float]] = []
    order = sorted(published, key=lambda p: (market.true_price(p[0]), -p[0]))
    chosen: list[tuple[int, float]] = []
    for slot, hours in order:
        if wanted_h <= 1e-9:
            break
        chosen.append((slot, min(hours, wanted_h)))
        wanted_h -= hours
    for slot, hours in chosen:
        slot_end = min(end_s, (slot + 1) * SLOT_S)
        slot_begin = max(now_s, slot * SLOT_S)
        # A trimmed slot keeps its end (starts late) when it is the first of the plan, as
        # evcc's optimalPlan does, else it keeps its start.
        first = all(slot <= other for other, _ in chosen)
        if first and len(chosen) > 1:
            booked.append((slot_end - hours * 3600.0, slot_end))
        else:
            booked.append((slot_begin, slot_begin + hours * 3600.0))
    if late_h > 0:
        booked.append((end_s - late_h * 3600.0, end_s))
    return sorted(booked)


def evcc_like(session: Session, charger: Charger, market: Market) -> Draw:
    draw: Draw = {}
    remaining = session.energy_kwh
    now_s = session.arrival.timestamp()
    end_s = session.departure.timestamp()
    power = charger.max_power_kw
    # evcc re-plans every cycle; a plan changes only when prices are published or when the
    # booked hours cannot bring the energy in (believed efficiency below the real one), so
    # re-planning at those moments, the latter at every slot boundary, is the same thing.
    for _ in range(int((end_s - now_s) / SLOT_S) + _MAX_REPLANS):
        if remaining <= ENERGY_RESOLUTION_KWH or now_s >= end_s - 1e-6:
            break
        now = datetime.fromtimestamp(now_s, session.arrival.tzinfo)
        known = market.known_until(now)
        hours_needed = remaining * charger.efficiency / EVCC_BELIEVED_EFFICIENCY / power
        booking = _evcc_booking(market, now_s, end_s, hours_needed, known)
        next_s = end_s
        if market.publication is not None and known < slot_index(session.departure):
            next_s = min(next_s, market.publication.next_after(now).timestamp())
        booked_kwh = power * sum(stop - start for start, stop in booking) / 3600.0
        if booked_kwh < remaining - ENERGY_RESOLUTION_KWH:
            next_s = min(next_s, (math.floor(now_s / SLOT_S) + 1) * SLOT_S)
        for start, stop in booking:
            for slot, hours in _segments(max(start, now_s), min(stop, next_s)):
                take = min(remaining, power * hours)
                _add(draw, slot, take)
                remaining -= take
            if remaining <= ENERGY_RESOLUTION_KWH:
                break
        now_s = next_s
    return draw


def _request(session: Session, charger: Charger, now: datetime, delivered_kwh: float,
             prices: Sequence[PriceSlot]) -> PlanRequest:
    # The planner thinks in SoC; a battery that is exactly the session's energy (battery side)
    # makes 0 % -> 100 % mean "deliver energy_kwh from the grid".
    capacity = session.energy_kwh * charger.efficiency
    return PlanRequest(
        now=now,
        departure=session.departure,
        soc_pct=min(100.0, 100.0 * delivered_kwh / session.energy_kwh),
        target_soc_pct=100.0,
        capacity_kwh=capacity,
        max_power_kw=charger.max_power_kw,
        min_power_kw=charger.min_power_kw,
        efficiency=charger.efficiency,
        prices=prices,
    )


def _plan_draw(
    session: Session, charger: Charger, options: PlanOptions, now: datetime,
    delivered_kwh: float, values_first: int, values: FloatArray, until_s: float,
) -> Draw:
    """Plan at `now` and carry the plan out until `until_s` (the next re-plan or departure)."""
    request = _request(session, charger, now, delivered_kwh, as_price_slots(values, values_first))
    result = plan(request, options)
    draw: Draw = {}
    for slot in result.slots:
        if slot.energy_kwh <= 0.0:
            continue
        start_s, end_s = slot.start.timestamp(), slot.end.timestamp()
        if start_s >= until_s - 1e-6:
            break
        kwh_per_hour = slot.energy_kwh / ((end_s - start_s) / 3600.0)
        for piece, hours in _segments(start_s, min(end_s, until_s)):
            _add(draw, piece, kwh_per_hour * hours)
    return draw


def ours(session: Session, charger: Charger, market: Market, options: PlanOptions) -> Draw:
    if session.energy_kwh <= ENERGY_RESOLUTION_KWH:
        return {}
    draw: Draw = {}
    delivered = 0.0
    now = session.arrival
    first = slot_index(session.arrival)
    last = slot_index(session.departure - timedelta(microseconds=1)) + 1
    for _ in range(_MAX_REPLANS):
        values, known = market.believed(now, first, last)
        if known >= last or market.publication is None:
            until = session.departure
        else:
            until = min(session.departure, market.publication.next_after(now))
        step = _plan_draw(session, charger, options, now, delivered, first, values,
                          until.timestamp())
        for slot, kwh in step.items():
            _add(draw, slot, kwh)
            delivered += kwh
        if until >= session.departure:
            break
        now = until
    return draw


def optimum(session: Session, charger: Charger, market: Market, options: PlanOptions) -> Draw:
    if session.energy_kwh <= ENERGY_RESOLUTION_KWH:
        return {}
    first = slot_index(session.arrival)
    last = slot_index(session.departure - timedelta(microseconds=1)) + 1
    return _plan_draw(session, charger, options, session.arrival, 0.0, first,
                      market.grid.window(first, last), session.departure.timestamp())
