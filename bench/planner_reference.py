"""An independent reference formulation of the planning problem, solved with SciPy.

It shares no code with optimizer.planner: it builds its own slot boundaries from the raw price
list and states the problem directly as an LP/MILP, so agreement with the planner is evidence,
not an echo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from optimizer.model import PriceSlot


@dataclass(frozen=True)
class Reference:
    cost: float
    energy_kwh: float
    feasible: bool


def _boundaries(now: datetime, end: datetime) -> list[datetime]:
    quarter = timedelta(minutes=15)
    first = datetime.fromtimestamp((now.timestamp() // 900 + 1) * 900, now.tzinfo)
    out = [now]
    at = first
    while at < end:
        out.append(at)
        at += quarter
    out.append(end)
    return out


def _price(prices: Sequence[PriceSlot], at: datetime) -> float:
    for slot in prices:
        if slot.start <= at < slot.end and slot.price is not None:
            return slot.price
    raise AssertionError(f"reference needs known prices; none at {at}")


def reference_cost(
    prices: Sequence[PriceSlot],
    now: datetime,
    departure: datetime,
    need_kwh: float,
    max_power_kw: float,
    min_power_kw: float = 0.0,
    min_run_slots: int = 1,
) -> Reference:
    """min sum(p e) s.t. sum(e) >= need, 0 or p_min*h <= e <= p_max*h, runs >= min_run_slots."""
    bounds = _boundaries(now, departure)
    hours = np.array([(b - a).total_seconds() / 3600 for a, b in pairwise(bounds)])
    price = np.array([_price(prices, a) for a in bounds[:-1]])
    n = len(hours)
    binary = min_power_kw > 0 or min_run_slots > 1
    if not binary:
        # An LP: linprog lets the tolerances go far below HiGHS's defaults (1e-7), which at
        # near-zero prices would otherwise leave the reference visibly off its own optimum.
        result = linprog(
            price, A_eq=np.ones((1, n)), b_eq=[need_kwh],
            bounds=list(zip(np.zeros(n), max_power_kw * hours, strict=True)), method="highs",
            options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
        )
    else:
        # columns: e (n), u (n), y (n)
        c = np.concatenate([price, np.zeros(2 * n)])
        rows = []
        lo = []
        hi = []
        total = np.zeros(3 * n)
        total[:n] = 1
        rows.append(total)
        lo.append(need_kwh)
        hi.append(np.inf)
        for i in range(n):
            r = np.zeros(3 * n)
            r[i] = 1
            r[n + i] = -max_power_kw * hours[i]
            rows.append(r)
            lo.append(-np.inf)
            hi.append(0)
            r = np.zeros(3 * n)
            r[i] = 1
            r[n + i] = -min_power_kw * hours[i]
            rows.append(r)
            lo.append(0)
            hi.append(np.inf)
            r = np.zeros(3 * n)
            r[2 * n + i] = 1
            r[n + i] = -1
            if i > 0:
                r[n + i - 1] = 1
            rows.append(r)
            lo.append(0)
            hi.append(np.inf)
            for k in range(i + 1, min(i + min_run_slots, n)):
                r = np.zeros(3 * n)
                r[n + k] = 1
                r[2 * n + i] = -1
                rows.append(r)
                lo.append(0)
                hi.append(np.inf)
        # HiGHS also stops at an absolute gap of 1e-6, which at prices near a cent is a
        # relative one of 1e-4: the objective is scaled so that the relative gap is what counts.
        c *= 1e6
        upper = np.concatenate([max_power_kw * hours, np.ones(2 * n)])
        integrality = np.concatenate([np.zeros(n), np.ones(2 * n)])
        result = milp(
            c,
            constraints=[LinearConstraint(np.array(rows), lo, hi)],
            bounds=Bounds(0, upper),
            integrality=integrality,
            options={"mip_rel_gap": 1e-6},
        )
    if result.x is None:
        return Reference(float("nan"), 0.0, False)
    energy = result.x[:n]
    return Reference(float(price @ energy), float(energy.sum()), True)
