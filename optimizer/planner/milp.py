"""The exact solver for everything the greedy cannot do: HiGHS on a small (MI)LP.

Used for a taper (an LP: the power limit depends on the SoC reached), a minimum power (on/off
binaries), a minimum run length, a start penalty and the single-block mode (start binaries).

Columns, per slot i: energy e_i; SoC s_i (with a taper, n+1 of them); on u_i; start y_i; then
overshoot o (energy beyond the need that a minimum power forces) and extra x (opportunistic
energy). The matrix is assembled column-wise into one `HighsLp`, which is much faster than
adding rows one by one from Python.
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from optimizer.planner.horizon import Horizon
from optimizer.planner.problem import Problem

_INF = math.inf  # HiGHS reads any bound >= 1e20 as infinite
_banner_lock = threading.Lock()
_banner_done = False


def new_solver() -> Any:
    """A silent HiGHS instance.

    HiGHS prints its banner on stdout when the first `Highs` of a process is built, before any
    option can be set, which corrupts `plan --json` and `--batch` output. So the first one is
    built with file descriptor 1 pointed at /dev/null (C's stdio buffer flushed before fd 1 is
    restored, so that nothing leaks out later); every later one prints nothing by itself.
    """
    # Imported here: numpy and HiGHS take ~0.2 s to load, which the greedy plans that make up
    # most of a batch should not pay.
    import highspy

    global _banner_done
    with _banner_lock:
        if not _banner_done:
            sys.stdout.flush()
            saved = os.dup(1)
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, 1)
                solver = highspy.Highs()  # type: ignore[no-untyped-call]
                ctypes.CDLL(None).fflush(None)
            finally:
                os.dup2(saved, 1)
                os.close(saved)
                os.close(devnull)
            _banner_done = True
        else:
            solver = highspy.Highs()  # type: ignore[no-untyped-call]
    solver.setOptionValue("output_flag", False)
    return solver


@dataclass
class _Lp:
    """A column-wise LP builder: columns are added with their coefficients in named rows."""

    cost: list[float] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)
    row_lower: list[float] = field(default_factory=list)
    row_upper: list[float] = field(default_factory=list)
    entries: list[list[tuple[int, float]]] = field(default_factory=list)

    def row(self, lower: float, upper: float) -> int:
        self.row_lower.append(lower)
        self.row_upper.append(upper)
        return len(self.row_lower) - 1

    def col(self, cost: float, lower: float, upper: float, integer: bool = False) -> int:
        self.cost.append(cost)
        self.lower.append(lower)
        self.upper.append(upper)
        self.integer.append(integer)
        self.entries.append([])
        return len(self.cost) - 1

    def put(self, row: int, col: int, value: float) -> None:
        self.entries[col].append((row, value))

    def solve(self, time_limit_s: float) -> tuple[list[float], str, bool]:
        """(column values, HiGHS status, optimal?); no values when there is no solution."""
        import highspy
        import numpy as np

        lp = highspy.HighsLp()
        lp.num_col_ = len(self.cost)
        lp.num_row_ = len(self.row_lower)
        lp.col_cost_ = np.array(self.cost)
        lp.col_lower_ = np.array(self.lower)
        lp.col_upper_ = np.array(self.upper)
        lp.row_lower_ = np.array(self.row_lower)
        lp.row_upper_ = np.array(self.row_upper)
        starts = [0]
        index: list[int] = []
        values: list[float] = []
        for column in self.entries:
            for row, value in column:
                index.append(row)
                values.append(value)
            starts.append(len(index))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(values)
        if any(self.integer):
            lp.integrality_ = [
                highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                for i in self.integer
            ]
        solver = new_solver()
        solver.setOptionValue("threads", 1)
        solver.setOptionValue("time_limit", time_limit_s)
        solver.setOptionValue("mip_rel_gap", 1e-5)
        # HiGHS's defaults (1e-7 for rows, 1e-6 for bounds and integrality in a MIP) are as
        # large as the 1e-6 kWh the plan treats as noise: a slot could hold its cap plus 5e-7
        # kWh, or an "off" slot 7e-8 kWh that the plan then drops, missing the target by it.
        solver.setOptionValue("primal_feasibility_tolerance", 1e-9)
        solver.setOptionValue("mip_feasibility_tolerance", 1e-9)
        solver.passModel(lp)
        solver.run()
        status = solver.getModelStatus()
        name = solver.modelStatusToString(status)
        if status == highspy.HighsModelStatus.kOptimal:
            return list(solver.getSolution().col_value), name, True
        # At the time limit HiGHS may hold a feasible incumbent: the best plan found so far,
        # which the caller may use but must not call optimal. Without one there is nothing.
        timed_out = status == highspy.HighsModelStatus.kTimeLimit
        if timed_out and solver.getInfo().primal_solution_status == int(
            highspy.SolutionStatus.kSolutionStatusFeasible
        ):
            return list(solver.getSolution().col_value), name, False
        return [], name, False


@dataclass(frozen=True, slots=True)
class MilpResult:
    energy_kwh: list[float]
    """Energy per slot; empty when HiGHS found no solution at all."""
    status: str
    """HiGHS's model status, e.g. 'Optimal' or 'Time limit reached'."""
    optimal: bool


def solve_milp(problem: Problem, time_limit_s: float) -> MilpResult:
    """Solve `problem`; at the time limit the best solution found so far, marked not optimal."""
    horizon = problem.horizon
    n = len(horizon)
    lp = _Lp()
    caps = problem.caps()
    # Overshoot (energy beyond the need that a minimum power or run length forces) is priced
    # at its slot's real cost plus this, which only makes sure that negative prices never turn
    # it into a way to earn money; the opportunistic option is the way to charge more.
    overshoot_cost = max(0.0, -min(horizon.prices, default=0.0)) + 1e-6

    balance = lp.row(problem.need_kwh, problem.need_kwh)
    # A vanishing time preference makes ties deterministic: of equally cheap slots the earlier
    # one wins, which leaves slack before departure (as in the greedy).
    energy = [
        lp.col(horizon.prices[i] + 1e-9 * i, problem.forced_kwh[i], caps[i]) for i in range(n)
    ]
    for col in energy:
        lp.put(balance, col, 1.0)
    # Overshoot is not bounded by 100 %: with a minimum power the charger may be on for a
    # whole slot while the car, once full, takes less; the SoC trajectory is capped at 100 %.
    overshoot = lp.col(overshoot_cost, 0.0, _INF)
    lp.put(balance, overshoot, -1.0)
    extra_room = max(min(problem.extra_kwh, problem.full_kwh - problem.need_kwh), 0.0)
    extra = lp.col(-problem.extra_price_cap, 0.0, extra_room)
    lp.put(balance, extra, -1.0)

    if problem.limit.lines:
        # s_{i+1} = s_i + k e_i, and e_i <= h_i (a + b s_{i+1}) for every taper line.
        soc = [lp.col(0.0, problem.soc_pct, problem.soc_pct)]
        for i in range(n):
            soc.append(lp.col(0.0, 0.0, 100.0))
            step = lp.row(0.0, 0.0)
            lp.put(step, soc[i + 1], 1.0)
            lp.put(step, soc[i], -1.0)
            lp.put(step, energy[i], -problem.pct_per_kwh)
            for a, b in problem.limit.lines:
                line = lp.row(-_INF, horizon.hours[i] * a)
                lp.put(line, energy[i], 1.0)
                lp.put(line, soc[i + 1], -horizon.hours[i] * b)

    needs_on = (
        problem.min_power_kw > 0
        or problem.min_run_slots > 1
        or problem.start_penalty > 0
        or problem.single_block
    )
    if needs_on:
        on = [lp.col(0.0, 0.0, 1.0, integer=True) for _ in range(n)]
        for i in range(n):
            upper = lp.row(-_INF, 0.0)  # e_i <= cap_i u_i
            lp.put(upper, energy[i], 1.0)
            lp.put(upper, on[i], -caps[i])
            if problem.min_power_kw > 0:
                lower = lp.row(0.0, _INF)  # e_i >= p_min h_i u_i
                lp.put(lower, energy[i], 1.0)
                lp.put(lower, on[i], -problem.min_power_kw * horizon.hours[i])
    needs_start = problem.min_run_slots > 1 or problem.start_penalty > 0 or problem.single_block
    if needs_on and needs_start:
        start = [lp.col(problem.start_penalty, 0.0, 1.0, integer=True) for _ in range(n)]
        for i in range(n):
            # y_i >= u_i - u_{i-1}; before the horizon the charger is on if it charges now.
            edge = lp.row(-1.0 if problem.charging_now and i == 0 else 0.0, _INF)
            lp.put(edge, start[i], 1.0)
            lp.put(edge, on[i], -1.0)
            if i > 0:
                lp.put(edge, on[i - 1], 1.0)
            for k in range(i + 1, min(i + problem.min_run_slots, n)):
                run = lp.row(0.0, _INF)  # a run that starts at i stays on until i + L - 1
                lp.put(run, on[k], 1.0)
                lp.put(run, start[i], -1.0)
        if problem.single_block:
            block = lp.row(-_INF, 1.0)
            for col in start:
                lp.put(block, col, 1.0)

    values, status, optimal = lp.solve(time_limit_s)
    if not values:
        return MilpResult([], status, False)
    # With one price everywhere any plan of the least energy is optimal and HiGHS's gap
    # scatters them; the earliest leaves the most slack before departure.
    if optimal and (horizon.uniform_price or _late_among_fallbacks(
            horizon, caps, [values[col] for col in energy])):
        values = _earliest_of_equal_cost(lp, values, energy, time_limit_s)
    return MilpResult([max(values[col], 0.0) for col in energy], status, optimal)


def _late_among_fallbacks(horizon: Horizon, caps: list[float], energy: list[float]) -> bool:
    """True when a slot priced at the fallback charges while an earlier one has room left.

    Every slot past the published prices costs the same fallback price, and the cost's tiny
    time preference (1e-9 per slot) is far below HiGHS's optimality gap, so HiGHS may pick any
    of them; a plan that scatters over slots nobody knows the price of cannot be explained.
    (Ties between published prices, such as the quarters of an hourly price, are left to the
    first solve: they are common, and a second solve for each would double the MILP's time.)
    """
    room_from: int | None = None
    for i, (provisional, cap, e) in enumerate(
            zip(horizon.provisional, caps, energy, strict=True)):
        if not provisional:
            continue
        if e > 1e-6 and room_from is not None:
            return True
        if e < cap - 1e-6 and room_from is None:
            room_from = i
    return False


def _earliest_of_equal_cost(lp: _Lp, values: list[float], energy: list[int],
                            time_limit_s: float) -> list[float]:
    """Of the plans that cost no more than `values`, the one that charges earliest."""
    cost = sum(c * v for c, v in zip(lp.cost, values, strict=True))
    cap = lp.row(-_INF, cost + 1e-9 * max(1.0, abs(cost)))
    for col, c in enumerate(lp.cost):
        if c:
            lp.put(cap, col, c)
    lp.cost = [0.0] * len(lp.cost)
    for i, col in enumerate(energy):
        lp.cost[col] = float(i)
    earliest, _, _ = lp.solve(time_limit_s)
    return earliest or values
