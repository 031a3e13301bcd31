"""`plan_fleet()`: the cheapest plans for several vehicles behind one site power limit.

Pure, like `plan()`: no I/O and no clock; `now` is part of the request. The semantics:

- one slot grid for the site: `now`, then every 15-minute mark up to the last departure; a
  vehicle charges in the slots that start before its departure, for its part of each;
- in every slot the powers of the vehicles there add up to at most the site limit. It is power,
  not energy: a vehicle leaving mid-slot holds its power until it leaves and frees nothing for
  the others, who hold one power for the whole slot;
- each vehicle holds one power in {0} ∪ [min_power, max_power] over its part of a slot;
- energies are grid-side; the battery gains `energy × efficiency`; no vehicle is charged past
  its target (a minimum power may force a little more, never for profit);
- when not every target can be met: first every vehicle up to its `min_soc`, by priority
  (higher first); then the least total shortfall; ties go to the higher priority, then to the
  earlier departure. The minimum SoC matters only then: a feasible fleet is planned for cost
  alone, so its plan is the joint optimum.

See fleet_lp.py for the model and README.md for why it is exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from optimizer.errors import InputError
from optimizer.model import PlannedSlot, PriceSlot, require_aware
from optimizer.planner.fleet_lp import JointModel, JointShape, Solution
from optimizer.planner.horizon import Horizon, build_horizon, provisional_note, to_datetime

NDArrayInt = np.ndarray[tuple[int], np.dtype[np.int64]]
NDArrayFloat = np.ndarray[tuple[int], np.dtype[np.float64]]

NEED_RESOLUTION_KWH = 1e-9
"""A need this small is met already; anything above it is planned."""
SHORTFALL_RESOLUTION_KWH = 1e-6
"""A shortfall this small is solver rounding, not a missed target."""
_TIE_WEIGHT = 1e-6
"""Weight of the departure tie-break against one kWh: a stage can give away at most this share
of its total for order (only an exchange closer than 1e-6 to 1:1 pays), and it is still far
above the LP tolerances."""

_FLOOR_SLACK = 1e-9
"""Relative slack of a stage's result when later stages must keep it: the LP tolerance, so a
stage never fails on its own rounding and gives away no more than a nano-kWh per kWh."""


@dataclass(frozen=True, slots=True)
class FleetVehicle:
    name: str
    soc_pct: float
    target_soc_pct: float
    capacity_kwh: float
    departure: datetime
    max_power_kw: float
    min_power_kw: float = 0.0
    efficiency: float = 0.9
    priority: float = 0.0
    min_soc_pct: float = 0.0

    @property
    def pct_per_kwh(self) -> float:
        return self.efficiency * 100.0 / self.capacity_kwh

    @property
    def need_kwh(self) -> float:
        return max(0.0, self.target_soc_pct - self.soc_pct) / self.pct_per_kwh

    @property
    def min_soc_kwh(self) -> float:
        floor = min(self.min_soc_pct, self.target_soc_pct)
        return max(0.0, floor - self.soc_pct) / self.pct_per_kwh


@dataclass(frozen=True, slots=True)
class FleetRequest:
    now: datetime
    site_max_power_kw: float
    vehicles: tuple[FleetVehicle, ...]
    prices: Sequence[PriceSlot]
    unknown_price: float | None = None
    forecast_from: datetime | None = None
    """Prices from here on are a forecast (flagged provisional), as in `PlanRequest`."""


@dataclass(frozen=True, slots=True)
class VehiclePlan:
    name: str
    feasible: bool
    reason: str | None
    energy_kwh: float
    shortfall_kwh: float
    cost: float
    soc_at_departure_pct: float
    slots: tuple[PlannedSlot, ...]
    """Every slot from now to its departure (the last ends there), with power or without."""

    @property
    def charging_slots(self) -> tuple[PlannedSlot, ...]:
        return tuple(s for s in self.slots if s.power_kw > 0)


@dataclass(frozen=True, slots=True)
class FleetPlan:
    feasible: bool
    cost: float
    vehicles: tuple[VehiclePlan, ...]
    method: str
    mip_gap: float | None
    """HiGHS's relative gap when a minimum power made it a MILP; None for the exact LP."""
    reason: str | None = None
    """Why the costs are provisional (slots past the published prices), else None."""


def validate_fleet(request: FleetRequest) -> None:
    """The core's own checks (the CLI checks more, with file positions, before this)."""
    require_aware("now", request.now)
    if not request.site_max_power_kw > 0:
        raise InputError(f"site_max_power_kw: {request.site_max_power_kw:g} must be positive")
    names = [v.name for v in request.vehicles]
    for index, vehicle in enumerate(request.vehicles):
        require_aware(f"vehicles[{index}].departure", vehicle.departure)
        if names.count(vehicle.name) > 1:
            raise InputError(f"vehicles[{index}].name: {vehicle.name!r} appears twice")
        if not 0.0 <= vehicle.min_power_kw <= vehicle.max_power_kw:
            raise InputError(
                f"vehicles[{index}].min_power: {vehicle.min_power_kw:g} is not between 0 and "
                f"max_power ({vehicle.max_power_kw:g} kW)"
            )


def plan_fleet(request: FleetRequest, time_limit_s: float = 10.0) -> FleetPlan:
    validate_fleet(request)
    now_s = request.now.timestamp()
    active = [
        i for i, v in enumerate(request.vehicles)
        if v.departure.timestamp() > now_s and v.need_kwh > NEED_RESOLUTION_KWH
    ]
    if not active:
        plans = tuple(_idle(v) for v in request.vehicles)
        return FleetPlan(all(p.feasible for p in plans), 0.0, plans, "none", None)

    last = max(request.vehicles[i].departure for i in active)
    horizon = build_horizon(request.prices, request.now, last, None, request.unknown_price,
                            request.forecast_from)
    shape = _shape(request, active, horizon)
    model = JointModel(shape, time_limit_s)
    overshoot_cost = max(0.0, -float(shape.pair_price.min(initial=0.0))) + 1e-6
    solution = _solve(request, active, shape, model, overshoot_cost, time_limit_s)

    method = "highs-milp" if model.integer else "transportation-lp"
    by_index: dict[int, VehiclePlan] = {}
    if solution is None:
        for i in active:
            by_index[i] = _idle(request.vehicles[i], "the solver found no plan; please report")
        method += " (no solution)"
    else:
        power = _clean(shape, solution.power_kw)
        for row, i in enumerate(active):
            by_index[i] = _vehicle_plan(request, request.vehicles[i], horizon, shape, row, power)
        if solution.status != "Optimal":
            method += f" ({solution.status})"
    plans = tuple(
        by_index[i] if i in by_index else _idle(v) for i, v in enumerate(request.vehicles)
    )
    return FleetPlan(
        feasible=all(p.feasible for p in plans),
        cost=sum(p.cost for p in plans),
        vehicles=plans,
        method=method,
        mip_gap=solution.mip_gap if solution is not None else None,
        reason=_provisional_reason(horizon, plans),
    )


def _provisional_reason(horizon: Horizon, plans: tuple[VehiclePlan, ...]) -> str | None:
    count = sum(1 for p in plans for s in p.charging_slots if s.provisional)
    if not count:
        return None
    if not horizon.any_known:
        return ("no price is published between now and the last departure: the costs mean "
                "nothing; give prices that cover the plan")
    return provisional_note(count, horizon)


def _shape(request: FleetRequest, active: list[int], horizon: Horizon) -> JointShape:
    starts = np.asarray(horizon.starts)
    ends = np.asarray(horizon.ends)
    prices = np.asarray(horizon.prices)
    vehicle_of: list[NDArrayInt] = []
    slot_of: list[NDArrayInt] = []
    hours_of: list[NDArrayFloat] = []
    for row, i in enumerate(active):
        departure = request.vehicles[i].departure.timestamp()
        count = int(np.searchsorted(starts, departure - 1e-6, side="left"))
        hours = (np.minimum(ends[:count], departure) - starts[:count]) / 3600.0
        vehicle_of.append(np.full(count, row, dtype=np.int64))
        slot_of.append(np.arange(count, dtype=np.int64))
        hours_of.append(hours)
    vehicles = [request.vehicles[i] for i in active]
    pair_slot = np.concatenate(slot_of)
    return JointShape(
        slots=len(horizon),
        site_kw=request.site_max_power_kw,
        pair_vehicle=np.concatenate(vehicle_of),
        pair_slot=pair_slot,
        pair_hours=np.concatenate(hours_of),
        pair_price=prices[pair_slot],
        max_kw=np.array([v.max_power_kw for v in vehicles]),
        min_kw=np.array([v.min_power_kw for v in vehicles]),
        energy_low=np.zeros(len(vehicles)),
        # A minimum power may force energy beyond the need, and even beyond 100 %: the charger
        # is on for its whole slot while a full car takes less (as in the single planner).
        energy_high=np.array([np.inf if v.min_power_kw > 0 else v.need_kwh for v in vehicles]),
        need_kwh=np.array([v.need_kwh for v in vehicles]),
        min_soc_kwh=np.array([v.min_soc_kwh for v in vehicles]),
    )



def _solve(
    request: FleetRequest, active: list[int], shape: JointShape, model: JointModel,
    overshoot_cost: float, time_limit_s: float,
) -> Solution | None:
    """The cheapest plan meeting every target, or else the plan of the infeasible rule."""
    cost = model.cost_objective(overshoot_cost)
    model.set_objective(cost)
    model.set_target_floor(shape.need_kwh)
    first = model.solve()
    if first.ok:
        return first

    model.set_target_floor(np.zeros(shape.vehicles))
    vehicles = [request.vehicles[i] for i in active]
    priority = np.array([v.priority for v in vehicles])
    departure = np.array([v.departure.timestamp() for v in vehicles])
    # earlier departure -> larger weight in [0, 1]: the tie-break inside a priority group
    span = max(float(departure.max() - departure.min()), 1.0)
    early = (departure.max() - departure) / span
    groups = [np.flatnonzero(priority == p) for p in sorted(set(priority.tolist()), reverse=True)]
    everyone = np.arange(shape.vehicles)
    stages: list[tuple[int, NDArrayInt]] = []
    if shape.min_soc_kwh.max(initial=0.0) > NEED_RESOLUTION_KWH:
        model.set_min_soc_floor(shape.min_soc_kwh)
        model.set_objective(np.zeros(model.columns))
        if not model.solve().ok:
            model.set_min_soc_floor(np.zeros(shape.vehicles))
            stages += [(model.col_y, group) for group in groups]
    stages += [(model.col_t, group) for group in ([everyone, *groups] if len(groups) > 1
                                                   else [everyone])]
    if model.integer:  # a MILP per stage: share the time among them
        model.set_time_limit(max(0.5, time_limit_s / (len(stages) + 2)))
    best: Solution | None = None
    for block, group in stages:
        best = _maximise(model, block, group, early, best) or best
    last = _maximise(model, model.col_t, everyone, early, best, fix=False) or best
    if last is None:
        return None
    reached = np.minimum(last.energy_kwh, shape.need_kwh)
    model.set_target_floor(np.maximum(reached - _FLOOR_SLACK * np.maximum(reached, 1.0), 0.0))
    model.set_objective(cost)
    final = model.solve(last)
    return final if final.ok else last


def _maximise(
    model: JointModel, block: int, group: NDArrayInt, early: NDArrayFloat,
    start: Solution | None, fix: bool = True,
) -> Solution | None:
    """Maximise Σ column over `group` (earlier departures first among equals); then, with
    `fix`, keep that sum as a floor for every later stage. None if no solution was found (the
    stage then adds no floor)."""
    objective = np.zeros(model.columns)
    objective[block + group] = 1.0 + _TIE_WEIGHT * early[group]
    model.set_objective(objective, maximize=True)
    solution = model.solve(start)
    if not solution.ok:
        return None
    if fix:
        reached = solution.block_sum(block, group)
        model.add_floor(block, group, reached - _FLOOR_SLACK * max(reached, 1.0))
    return solution


def _clean(shape: JointShape, power: NDArrayFloat) -> NDArrayFloat:
    """Solver crumbs off, and a power a hair below a charger's minimum onto it."""
    power = np.clip(power, 0.0, shape.max_kw[shape.pair_vehicle])
    power[power * shape.pair_hours <= NEED_RESOLUTION_KWH * 1e-3] = 0.0
    floor = shape.min_kw[shape.pair_vehicle]
    lifted = (power > 0) & (power < floor) & (power > floor - 1e-6)
    power[lifted] = floor[lifted]
    return power


def _vehicle_plan(
    request: FleetRequest, vehicle: FleetVehicle, horizon: Horizon, shape: JointShape, row: int,
    power: NDArrayFloat,
) -> VehiclePlan:
    pairs = np.flatnonzero(shape.pair_vehicle == row)
    departure = vehicle.departure
    soc = vehicle.soc_pct
    slots = []
    energy_total = 0.0
    cost = 0.0
    for pair in pairs:
        p = float(power[pair])
        i = int(shape.pair_slot[pair])
        energy = p * float(shape.pair_hours[pair])
        end_soc = min(100.0, soc + energy * vehicle.pct_per_kwh)
        slots.append(PlannedSlot(
            start=to_datetime(horizon.starts[i], request.now),
            end=min(to_datetime(horizon.ends[i], request.now), departure),
            power_kw=p,
            energy_kwh=energy,
            price=horizon.prices[i],
            provisional=horizon.provisional[i],
            soc_start_pct=soc,
            soc_end_pct=end_soc,
        ))
        soc = end_soc
        energy_total += energy
        cost += energy * horizon.prices[i]
    shortfall = max(0.0, vehicle.need_kwh - energy_total)
    feasible = shortfall <= SHORTFALL_RESOLUTION_KWH
    reason = None
    if not feasible:
        reason = (
            f"target {vehicle.target_soc_pct:g}% cannot be reached by departure within the "
            f"site limit of {request.site_max_power_kw:g} kW: the plan reaches {soc:.1f}%, "
            f"{shortfall:.3f} kWh short"
        )
    return VehiclePlan(
        name=vehicle.name, feasible=feasible, reason=reason, energy_kwh=energy_total,
        shortfall_kwh=0.0 if feasible else shortfall, cost=cost, soc_at_departure_pct=soc,
        slots=tuple(slots),
    )


def _idle(vehicle: FleetVehicle, failure: str | None = None) -> VehiclePlan:
    """A vehicle that gets no energy: gone, already at its target, or (with `failure`) one the
    solver could not plan."""
    reached = vehicle.need_kwh <= NEED_RESOLUTION_KWH and failure is None
    shortfall = 0.0 if reached else vehicle.need_kwh
    reason = failure
    if reason is None:
        reason = None if reached else (
            f"departure has passed at {vehicle.soc_pct:g}%, below the target "
            f"{vehicle.target_soc_pct:g}%"
        )
    return VehiclePlan(
        name=vehicle.name, feasible=reached, reason=reason, energy_kwh=0.0,
        shortfall_kwh=shortfall, cost=0.0, soc_at_departure_pct=vehicle.soc_pct, slots=(),
    )
