"""The exact solver for the linear case: cheapest slots first.

With no minimum power, no taper and no run constraints the problem is a fractional knapsack:
every slot offers energy up to its cap at a constant price, so filling the cheapest slots first
is optimal (an exchange argument: moving a kWh from a dearer slot to a cheaper one with room
never raises the cost). Ties go to the earlier slot, which finishes sooner and leaves slack
before departure, unlike evcc's latest-slot-wins rule. Opportunistic energy above the target
continues down the same order while the price stays below the cap.
"""

from __future__ import annotations

from optimizer.planner.problem import Problem

_EPS = 1e-12


def solve_greedy(problem: Problem) -> list[float]:
    horizon = problem.horizon
    hours, prices = horizon.hours, horizon.prices
    max_power_kw = problem.limit.max_power_kw  # no taper here: the cap is power x duration
    energy = list(problem.forced_kwh)
    order = horizon.price_order()
    remaining = problem.need_kwh - sum(energy)
    for i in order:
        if remaining <= _EPS:
            break
        take = min(max_power_kw * hours[i] - energy[i], remaining)
        if take > 0:
            energy[i] += take
            remaining -= take
    extra = min(problem.extra_kwh, problem.full_kwh - problem.need_kwh)
    for i in order:
        if extra <= _EPS or prices[i] >= problem.extra_price_cap:
            break
        take = min(max_power_kw * hours[i] - energy[i], extra)
        if take > 0:
            energy[i] += take
            extra -= take
    return energy
