"""The joint model behind `plan_fleet`: one transportation LP (a MILP only with a minimum power).

Columns are powers `p[v, i]` (kW) of vehicle v in slot i, so the site row of a slot is a plain
sum, `Σ_v p[v, i] <= site_kw`, whatever part of the slot each vehicle is there for; the vehicle's
energy row weighs each power by its own hours in the slot, `Σ_i h[v, i] p[v, i] = E[v]`. A
vehicle leaving mid-slot therefore takes its power from the site for the whole slot but gets
energy only for its part: a transportation problem with a gain on that one arc, which is why
this is an LP solved by simplex rather than a pure min-cost flow (see README.md).

Per vehicle there are three more columns: its energy `E`, the part `t <= min(E, need)` that
counts towards the target and the part `y <= min(E, min_soc need)` that counts towards the
minimum SoC. The staged objectives of the infeasible rule are set on `t` and `y`; a minimum
power adds one on/off binary per (vehicle, slot) with `p_min u <= p <= p_max u`.

The whole matrix is built with numpy in one pass and handed to HiGHS once; the stages change
the objective and add rows to the same instance, so each re-solve starts warm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
from numpy.typing import NDArray

from optimizer.planner.milp import new_solver

_INF = highspy.kHighsInf
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class JointShape:
    """What the model is made of; arrays are per (vehicle, slot) pair, vehicle-major."""

    slots: int
    site_kw: float
    pair_vehicle: NDArray[np.int64]
    pair_slot: NDArray[np.int64]
    pair_hours: FloatArray
    pair_price: FloatArray
    max_kw: FloatArray
    """Per vehicle."""
    min_kw: FloatArray
    """Per vehicle; 0 where the charger has no minimum."""
    energy_low: FloatArray
    energy_high: FloatArray
    need_kwh: FloatArray
    min_soc_kwh: FloatArray

    @property
    def vehicles(self) -> int:
        return len(self.max_kw)

    @property
    def pairs(self) -> int:
        return len(self.pair_slot)


@dataclass(frozen=True, slots=True)
class Solution:
    status: str
    ok: bool
    values: FloatArray
    """Every column, in the model's layout (empty when no solution was found)."""
    pairs: int
    vehicles: int
    mip_gap: float | None

    @property
    def power_kw(self) -> FloatArray:
        return self.values[: self.pairs]

    @property
    def energy_kwh(self) -> FloatArray:
        return self.values[self.pairs : self.pairs + self.vehicles]

    def block_sum(self, block: int, vehicles: NDArray[np.int64]) -> float:
        return float(self.values[block + vehicles].sum())


class JointModel:
    """A HiGHS instance holding the joint model; column blocks: p, E, t, y, u."""

    def __init__(self, shape: JointShape, time_limit_s: float) -> None:
        self.shape = shape
        m, nv = shape.pairs, shape.vehicles
        self.col_e = m
        self.col_t = m + nv
        self.col_y = m + 2 * nv
        binary = shape.min_kw[shape.pair_vehicle] > 0
        self.on_pairs = np.flatnonzero(binary)
        self.col_u = m + 3 * nv
        self.columns = self.col_u + len(self.on_pairs)
        self.integer = len(self.on_pairs) > 0
        self._highs = new_solver()
        self._highs.setOptionValue("threads", 1)
        self._highs.setOptionValue("time_limit", time_limit_s)
        self._highs.setOptionValue("primal_feasibility_tolerance", 1e-9)
        self._highs.setOptionValue("dual_feasibility_tolerance", 1e-9)
        self._highs.setOptionValue("mip_rel_gap", 1e-6)
        self._highs.setOptionValue("mip_feasibility_tolerance", 1e-9)
        self._highs.passModel(self._build())

    def _build(self) -> Any:
        s = self.shape
        m, nv, n = s.pairs, s.vehicles, s.slots
        k = len(self.on_pairs)
        pv, pi = s.pair_vehicle, s.pair_slot
        # rows: balance (nv), site (n), t <= E (nv), y <= E (nv), p <= P u (k), p >= Pmin u (k)
        r_site, r_t, r_y = nv, nv + n, 2 * nv + n
        r_up, r_low = 3 * nv + n, 3 * nv + n + k
        rows: list[NDArray[np.int64]] = []
        cols: list[NDArray[np.int64]] = []
        vals: list[FloatArray] = []

        def put(r: NDArray[np.int64], c: NDArray[np.int64], v: FloatArray | float) -> None:
            rows.append(r)
            cols.append(c)
            vals.append(np.broadcast_to(np.asarray(v, dtype=np.float64), r.shape))

        pairs = np.arange(m)
        vehicles = np.arange(nv)
        put(pv, pairs, s.pair_hours)
        put(r_site + pi, pairs, 1.0)
        put(vehicles, self.col_e + vehicles, -1.0)
        put(r_t + vehicles, self.col_t + vehicles, 1.0)
        put(r_t + vehicles, self.col_e + vehicles, -1.0)
        put(r_y + vehicles, self.col_y + vehicles, 1.0)
        put(r_y + vehicles, self.col_e + vehicles, -1.0)
        if k:
            on = np.arange(k)
            put(r_up + on, self.on_pairs, 1.0)
            put(r_up + on, self.col_u + on, -s.max_kw[pv[self.on_pairs]])
            put(r_low + on, self.on_pairs, 1.0)
            put(r_low + on, self.col_u + on, -s.min_kw[pv[self.on_pairs]])
        row = np.concatenate(rows)
        col = np.concatenate(cols)
        val = np.concatenate(vals)
        order = np.argsort(col, kind="stable")
        starts = np.zeros(self.columns + 1, dtype=np.int32)
        np.cumsum(np.bincount(col, minlength=self.columns), out=starts[1:])

        lp = highspy.HighsLp()
        lp.num_col_ = self.columns
        lp.num_row_ = r_low + k
        lp.col_cost_ = np.zeros(self.columns)
        lp.col_lower_ = np.zeros(self.columns)
        lp.col_upper_ = np.concatenate([
            s.max_kw[pv], s.energy_high, s.need_kwh, s.min_soc_kwh, np.ones(k),
        ])
        lp.col_lower_[self.col_e:self.col_t] = s.energy_low
        lp.row_lower_ = np.concatenate([
            np.zeros(nv), np.full(n, -_INF), np.full(2 * nv, -_INF), np.full(k, -_INF),
            np.zeros(k),
        ])
        lp.row_upper_ = np.concatenate([
            np.zeros(nv), np.full(n, s.site_kw), np.zeros(2 * nv), np.zeros(k), np.full(k, _INF),
        ])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = starts
        lp.a_matrix_.index_ = row[order].astype(np.int32)
        lp.a_matrix_.value_ = val[order]
        if k:
            kinds = [highspy.HighsVarType.kContinuous] * self.col_u
            kinds += [highspy.HighsVarType.kInteger] * k
            lp.integrality_ = kinds
        return lp

    def set_objective(self, cost: FloatArray, maximize: bool = False) -> None:
        """`cost` covers every column (zeros where a column does not count)."""
        index = np.arange(self.columns, dtype=np.int32)
        self._highs.changeColsCost(self.columns, index, cost.astype(np.float64))
        sense = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
        self._highs.changeObjectiveSense(sense)

    def cost_objective(self, overshoot_cost: float) -> FloatArray:
        """Money: price × grid energy, plus a penalty on energy a minimum power forces beyond
        the need (so negative prices never make overshoot a way to earn)."""
        cost = np.zeros(self.columns)
        cost[: self.shape.pairs] = self.shape.pair_price * self.shape.pair_hours
        cost[self.col_e:self.col_t] = overshoot_cost
        return cost

    def set_energy_bounds(self, low: FloatArray, high: FloatArray) -> None:
        nv = self.shape.vehicles
        index = np.arange(self.col_e, self.col_e + nv, dtype=np.int32)
        self._highs.changeColsBounds(nv, index, low, high)

    def set_min_soc_floor(self, floor: FloatArray) -> None:
        """y >= floor (with y <= min_soc need): every vehicle reaches at least this much."""
        nv = self.shape.vehicles
        index = np.arange(self.col_y, self.col_y + nv, dtype=np.int32)
        self._highs.changeColsBounds(nv, index, floor, self.shape.min_soc_kwh)

    def set_target_floor(self, floor: FloatArray) -> None:
        nv = self.shape.vehicles
        index = np.arange(self.col_t, self.col_t + nv, dtype=np.int32)
        self._highs.changeColsBounds(nv, index, floor, self.shape.need_kwh)

    def add_floor(self, block: int, vehicles: NDArray[np.int64], at_least: float) -> None:
        """Σ column[block + v] over `vehicles` >= at_least."""
        index = (block + vehicles).astype(np.int32)
        self._highs.addRow(at_least, _INF, len(index), index, np.ones(len(index)))

    def set_time_limit(self, seconds: float) -> None:
        self._highs.setOptionValue("time_limit", seconds)

    def solve(self, start: Solution | None = None) -> Solution:
        """Solve; with `start` (a solution of an earlier stage, which satisfies every floor
        derived from it) a MILP begins from that incumbent, so a stage that runs out of time
        still returns a plan at least as good as the stage before."""
        if start is not None and start.ok and self.integer:
            solution = highspy.HighsSolution()
            solution.col_value = start.values.tolist()
            solution.value_valid = True
            self._highs.setSolution(solution)
        self._highs.run()
        status = self._highs.getModelStatus()
        name = self._highs.modelStatusToString(status)
        values = np.asarray(self._highs.getSolution().col_value, dtype=np.float64)
        found = status == highspy.HighsModelStatus.kOptimal or (
            status == highspy.HighsModelStatus.kTimeLimit and self.integer and len(values) > 0
            and self._highs.getInfo().primal_solution_status == 2
        )
        s = self.shape
        if not found or len(values) < self.columns:
            return Solution(name, False, np.zeros(0), s.pairs, s.vehicles, None)
        gap = float(self._highs.getInfo().mip_gap) if self.integer else None
        return Solution(name, True, values, s.pairs, s.vehicles, gap)
