"""An independent joint LP/MILP of the fleet problem, stated in energies and solved with SciPy.

It shares no code with optimizer.planner: its own slot grid from the raw price list, energy
columns `e[v, i]` (not powers), and the site limit written as a power at every instant of the
slot, `Σ_v e[v, i] / h[v, i] <= site_kw`. Agreement with `plan_fleet` is evidence, not an echo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import coo_array

from optimizer.model import PriceSlot


@dataclass(frozen=True)
class RefVehicle:
    need_kwh: float
    departure: datetime
    max_power_kw: float
    min_power_kw: float = 0.0


@dataclass(frozen=True)
class RefResult:
    feasible: bool
    cost: float
    shortfall_kwh: float = 0.0
    """With an unreachable target: the least total shortfall any plan can have."""


def _grid(now: datetime, end: datetime) -> list[float]:
    t0, t1 = now.timestamp(), end.timestamp()
    out = [t0]
    mark = (t0 // 900 + 1) * 900
    while mark < t1:
        out.append(mark)
        mark += 900
    out.append(t1)
    return out


def _price(prices: Sequence[PriceSlot], at: float) -> float:
    for slot in prices:
        if slot.start.timestamp() <= at < slot.end.timestamp() and slot.price is not None:
            return slot.price
    raise AssertionError(f"the reference needs known prices; none at {at}")


def reference_fleet(
    prices: Sequence[PriceSlot], now: datetime, site_kw: float, vehicles: Sequence[RefVehicle],
) -> RefResult:
    """min Σ price e  s.t. Σ_i e[v, i] = need_v, 0 <= e <= P_v h (or 0 / [Pmin h, P h]),
    Σ_v e[v, i] / h[v, i] <= site_kw for every slot."""
    wanted = [v for v in vehicles if v.need_kwh > 1e-9 and v.departure > now]
    if not wanted:
        return RefResult(True, 0.0)
    bounds = _grid(now, max(v.departure for v in wanted))
    columns: list[tuple[int, int, float, float]] = []  # vehicle, slot, hours, price
    for index, vehicle in enumerate(wanted):
        dep = vehicle.departure.timestamp()
        for slot, (a, b) in enumerate(pairwise(bounds)):
            hours = (min(b, dep) - a) / 3600
            if hours > 1e-9:
                columns.append((index, slot, hours, _price(prices, a)))
    n = len(columns)
    cost = np.array([c[3] for c in columns])
    rows, cols, vals = [], [], []
    for j, (vehicle, slot, hours, _) in enumerate(columns):
        rows += [vehicle, len(wanted) + slot]
        cols += [j, j]
        vals += [1.0, 1.0 / hours]
    need = [v.need_kwh for v in wanted]
    slots = len(bounds) - 1
    upper = np.array([wanted[v].max_power_kw * h for v, _, h, _ in columns])
    binary = any(v.min_power_kw > 0 for v in wanted)
    if not binary:
        matrix = coo_array((vals, (rows, cols)), shape=(len(wanted) + slots, n)).tocsr()
        result = linprog(
            cost, A_ub=matrix[len(wanted):], b_ub=np.full(slots, site_kw),
            A_eq=matrix[: len(wanted)], b_eq=need, bounds=list(zip(np.zeros(n), upper,
                                                                   strict=True)),
            method="highs",
            options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
        )
        if result.status == 0:
            return RefResult(True, float(cost @ result.x))
        # the most energy towards the targets: max Σ e with Σ_i e[v, i] <= need_v
        most = linprog(
            -np.ones(n), A_ub=matrix, b_ub=np.concatenate([need, np.full(slots, site_kw)]),
            bounds=list(zip(np.zeros(n), upper, strict=True)), method="highs",
            options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
        )
        assert most.status == 0
        return RefResult(False, float("nan"), float(sum(need) + most.fun))
    # columns e (n) then on/off u (n): Pmin h u <= e <= P h u; need as >= (a minimum power may
    # force a little more energy than needed)
    height = len(wanted) + slots + 2 * n
    for j, (vehicle, _, hours, _) in enumerate(columns):
        base = len(wanted) + slots
        rows += [base + j, base + j, base + n + j, base + n + j]
        cols += [j, n + j, j, n + j]
        vals += [1.0, -wanted[vehicle].max_power_kw * hours,
                 1.0, -wanted[vehicle].min_power_kw * hours]
    matrix = coo_array((vals, (rows, cols)), shape=(height, 2 * n)).tocsr()
    low = np.concatenate([need, np.full(slots, -np.inf), np.full(n, -np.inf), np.zeros(n)])
    high = np.concatenate([np.full(len(wanted), np.inf), np.full(slots, site_kw), np.zeros(n),
                           np.full(n, np.inf)])
    result = milp(
        np.concatenate([cost, np.zeros(n)]),
        constraints=[LinearConstraint(matrix, low, high)],
        bounds=Bounds(0, np.concatenate([upper, np.ones(n)])),
        integrality=np.concatenate([np.zeros(n), np.ones(n)]),
        options={"mip_rel_gap": 1e-7},
    )
    if result.x is None:
        return RefResult(False, float("nan"))
    return RefResult(True, float(cost @ result.x[:n]))
