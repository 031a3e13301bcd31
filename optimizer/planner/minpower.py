"""An exact fast solver for a minimum power: slots are off or in [p_min, p_max].

Why it is exact: all whole 15-minute slots have the same bounds, so if an optimal plan uses a
dearer whole slot while a cheaper one is off, moving its energy to the cheaper one keeps every
bound and does not raise the cost. Some optimal plan therefore switches on the k cheapest whole
slots, for some k. The few partial slots (the one after `now`, around the buffer boundary, the
one before departure) are enumerated on/off. For each choice the best distribution is an LP:
every slot at p_min, then the rest cheapest-first up to p_max. Prefix sums over the slots in
price order make each k cost O(log n), so the whole search is O(2^partials · n log n).

It covers the common case (a real charger has a minimum current); a taper, forced energy,
opportunistic energy or run constraints go to the MILP.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from itertools import accumulate
from operator import mul

from optimizer.model import SLOT
from optimizer.planner.horizon import Horizon
from optimizer.planner.problem import Problem
from optimizer.recent import Recent

_FULL_H = SLOT.total_seconds() / 3600.0
_TOL = 1e-9


def applies(problem: Problem) -> bool:
    return (
        problem.min_power_kw > 0
        and not problem.limit.lines
        and problem.min_run_slots <= 1
        and problem.start_penalty <= 0
        and not problem.single_block
        and problem.extra_kwh <= 0
        and not any(problem.forced_kwh)
    )


def solve_min_power(problem: Problem) -> list[float]:
    horizon = problem.horizon
    n = len(horizon)
    prices, hours = horizon.prices, horizon.hours
    p_min, p_max = problem.min_power_kw, problem.limit.max_power_kw
    need = problem.need_kwh
    overshoot_cost = max(0.0, -min(prices, default=0.0)) + 1e-6

    whole, whole_prices, partial = horizon.whole_and_partial()  # whole slots in price order
    low, high = p_min * _FULL_H, p_max * _FULL_H
    base_cost, whole_sums = _whole_sums(horizon, p_min, p_max)

    best: tuple[float, int, list[int]] | None = None
    for mask in range(1 << len(partial)):
        on = [partial[j] for j in range(len(partial)) if mask >> j & 1]
        merged = _merged(whole, whole_prices, on, prices, hours, p_min, p_max)
        merged_prices, rooms, ranks = merged
        if on:
            room_sum = [0.0, *accumulate(rooms)]
            cost_sum = [0.0, *accumulate(map(mul, merged_prices, rooms))]
        else:
            room_sum, cost_sum = whole_sums
        # where each whole slot's rank sits in price order (itself when no partial slot is on)
        position = ({rank: pos for pos, rank in enumerate(ranks) if rank >= 0} if on
                    else None)
        on_low = sum(p_min * hours[i] for i in on)
        on_high = sum(p_max * hours[i] for i in on)
        on_cost = sum(prices[i] * p_min * hours[i] for i in on)
        # fewer whole slots than this cannot hold the need (one less, against rounding)
        fewest = max(0, math.ceil((need - _TOL - on_high) / high) - 1)
        for k in range(fewest, len(whole) + 1):
            if k * high + on_high < need - _TOL:
                continue
            cost = base_cost[k] + on_cost
            rest = need - (k * low + on_low)
            if rest <= 0:
                cost, marginal = cost + overshoot_cost * -rest, -overshoot_cost
            else:
                stop = position.get(k, len(ranks)) if position is not None else k
                fill, marginal = _fill_cost(rest, merged, room_sum, cost_sum, stop)
                cost += fill
            if best is None or cost < best[0] - 1e-12 or (
                    cost <= best[0] + 1e-12 and _earlier(whole, k, on, best)):
                best = (cost, k, on)
            # Switching on the next whole slots moves energy from the last kWh bought (at
            # `marginal`) to slots that cost at least prices[whole[k]]: the cost of the energy
            # is convex in its amount, so when that is no cheaper, no larger k is cheaper.
            if k == len(whole) or marginal <= whole_prices[k]:
                break
    if best is None:
        return []
    _, k, on = best
    energy = [0.0] * n
    for i in whole[:k]:
        energy[i] = low
    for i in on:
        energy[i] = p_min * hours[i]
    rest = need - sum(energy)
    if on or horizon.any_provisional:
        # (price, index) tuples sort in C, without a Python key call per slot
        chosen = [i for _, i in sorted([(prices[i], i) for i in whole[:k]]
                                       + [(prices[i], i) for i in on])]
    else:  # the whole slots are in (price, index) order already
        chosen = whole[:k]
    for i in chosen:
        if rest <= _TOL:
            break
        take = min(p_max * hours[i] - energy[i], rest)
        energy[i] += take
        rest -= take
    return energy


_sums: Recent[tuple[int, float, float],
              tuple[Horizon, list[float], tuple[list[float], list[float]]]] = Recent(1024)
"""The prefix sums of the latest horizons and charger ranges: the plans of a batch on one price
window with one charger share them. Keyed by the horizon's identity (held here, so that the id
stays its own)."""


def _whole_sums(
    horizon: Horizon, p_min: float, p_max: float,
) -> tuple[list[float], tuple[list[float], list[float]]]:
    """The cost of the k cheapest whole slots at p_min, for every k, and the room above p_min
    and its cost over the whole slots in price order (with no partial slot on)."""
    key = (id(horizon), p_min, p_max)
    found = _sums.get(key)
    if found is not None and found[0] is horizon:
        return found[1], found[2]
    _, whole_prices, _ = horizon.whole_and_partial()
    low = p_min * _FULL_H
    room = (p_max - p_min) * _FULL_H
    base_cost = [0.0, *accumulate(map(low.__mul__, whole_prices))]
    sums = ([0.0, *accumulate([room] * len(whole_prices))],
            [0.0, *accumulate(map(room.__mul__, whole_prices))])
    _sums.remember(key, (horizon, base_cost, sums))
    return base_cost, sums


def _earlier(whole: list[int], k: int, on: list[int], best: tuple[float, int, list[int]]) -> bool:
    """At equal cost, whether (k, on) switches on an earlier set of slots than `best`.

    Ties go to the earlier slot, as everywhere in the planner: with equal prices the car then
    charges now, in the part of the running slot, instead of waiting for the next whole one.
    """
    _, best_k, best_on = best
    return sorted(whole[:k] + on) < sorted(whole[:best_k] + best_on)


def _merged(
    whole: list[int], whole_prices: list[float], on: list[int], prices: list[float],
    hours: list[float], p_min: float, p_max: float,
) -> tuple[list[float], list[float], list[int]]:
    """Price, room above p_min, and rank among the whole slots (-1: a partial slot) of every
    candidate, cheapest first (then the earlier slot), as three parallel lists."""
    room = (p_max - p_min) * _FULL_H
    count = len(whole_prices)
    if not on:  # the whole slots are in price order already
        return whole_prices, [room] * count, list(range(count))
    pairs = enumerate(zip(whole_prices, whole, strict=True))
    items = [(price, i, room, rank) for rank, (price, i) in pairs]
    items += [(prices[i], i, (p_max - p_min) * hours[i], -1) for i in on]
    items.sort(key=lambda item: (item[0], item[1]))
    return ([item[0] for item in items], [item[2] for item in items],
            [item[3] for item in items])


def _fill_cost(
    rest: float, merged: tuple[list[float], list[float], list[int]], room_sum: list[float],
    cost_sum: list[float], stop: int,
) -> tuple[float, float]:
    """(cost, price of the last kWh) of `rest` kWh above p_min, cheapest first, over the slots
    that are on.

    Whole slots of rank >= k are off; in price order they all come after `stop` (the position of
    rank k), so before it every slot is on and after it only partial slots are.
    """
    merged_prices, rooms, ranks = merged
    if room_sum[stop] >= rest:
        t = max(bisect_left(room_sum, rest - 1e-12, 0, stop + 1), 1)
        price = merged_prices[t - 1]
        return cost_sum[t - 1] + (rest - room_sum[t - 1]) * price, price
    cost = cost_sum[stop]
    rest -= room_sum[stop]
    marginal = merged_prices[stop - 1] if stop else -math.inf
    for price, room, rank in zip(merged_prices[stop:], rooms[stop:], ranks[stop:], strict=True):
        if rank >= 0:
            continue
        take = min(room, rest)
        cost += take * price
        rest -= take
        marginal = price
        if rest <= _TOL:
            break
    return cost, marginal
