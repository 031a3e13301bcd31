"""`plan()`: the cheapest charging that still reaches the target by departure, or an honest no.

Pure: no I/O and no clock; `now` is part of the request. See README.md in this folder for the
cases and why each one behaves as it does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import compress
from operator import mul
from typing import Literal

from optimizer.bounds import MAX_HORIZON
from optimizer.errors import InputError
from optimizer.model import ChargePlan, PriceSlot, SlotTable, TaperPoint, require_aware
from optimizer.planner import minpower
from optimizer.planner.greedy import solve_greedy
from optimizer.planner.horizon import Horizon, build_horizon, provisional_note, to_datetime
from optimizer.planner.problem import Problem
from optimizer.planner.taper import PowerLimit, power_limit

ENERGY_RESOLUTION_KWH = 1e-6
"""Energies below this are noise: a need this small is met, a slot this full is off."""
DEFAULT_EFFICIENCY = 0.9
"""Grid to battery when nothing better is known: typical of AC charging (11 kW, 400 V)."""
MIN_AC_POWER_KW = 1.38
"""6 A on one phase at 230 V: the least an AC charger can deliver (IEC 61851). A run or a block
needs a real power floor, or "on at 0 kW" would satisfy it without charging."""


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """What the car and charger are, and what the owner wants."""

    now: datetime
    departure: datetime
    soc_pct: float
    target_soc_pct: float
    capacity_kwh: float
    max_power_kw: float
    prices: Sequence[PriceSlot]
    min_power_kw: float = 0.0
    efficiency: float = DEFAULT_EFFICIENCY
    taper: tuple[TaperPoint, ...] = ()
    forecast_from: datetime | None = None
    """Prices from here on are a forecast: planned on, and their slots flagged provisional."""


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """How to plan; every default reproduces the plain cheapest-slots plan."""

    mode: Literal["cheapest", "block"] = "cheapest"
    min_run_minutes: int = 0
    start_penalty: float = 0.0
    buffer_minutes: int = 0
    min_soc_pct: float = 0.0
    opportunistic_limit_soc_pct: float | None = None
    opportunistic_price_cap: float = 0.0
    unknown_price: float | None = None
    charging_now: bool = False
    time_limit_s: float = field(default=10.0, repr=False)


def validate_request(request: PlanRequest, options: PlanOptions | None = None) -> None:
    """Reject inputs no plan can be made from, naming the culprit.

    The physical ranges (`optimizer.bounds`) are checked where the numbers come in (CLI flags,
    batch keys, config); this guards the core itself against what no range would let through.
    """
    require_aware("now", request.now)
    require_aware("departure", request.departure)
    check_horizon(request.now, request.departure)
    # (ok, name, value, what to use instead; `{max_power}` is filled in for a message)
    checks: list[tuple[bool, str, float, str]] = [
        (0.0 <= request.soc_pct <= 100.0, "soc", request.soc_pct, "a percentage 0..100"),
        (0.0 <= request.target_soc_pct <= 100.0, "target", request.target_soc_pct,
         "a percentage 0..100"),
        (0.0 < request.capacity_kwh < math.inf, "capacity", request.capacity_kwh,
         "a positive kWh value"),
        (0.0 < request.max_power_kw < math.inf, "max_power", request.max_power_kw,
         "a positive kW value"),
        (0.0 <= request.min_power_kw <= request.max_power_kw, "min_power", request.min_power_kw,
         "between 0 and max_power ({max_power:g} kW)"),
        (0.0 < request.efficiency <= 1.0, "efficiency", request.efficiency,
         "a fraction in (0, 1], e.g. 0.9"),
        *((0.0 <= p.soc_pct <= 100.0 and 0.0 <= p.power_kw < math.inf, "taper", p.power_kw,
           "SoC points 0..100 with a finite power") for p in request.taper),
    ]
    if options is not None:
        checks += [
            (options.min_run_minutes >= 0, "min_run", options.min_run_minutes, "minutes >= 0"),
            (options.buffer_minutes >= 0, "buffer", options.buffer_minutes, "minutes >= 0"),
            (0.0 <= options.start_penalty < math.inf, "start_penalty", options.start_penalty,
             "a finite cost >= 0"),
            (0.0 <= options.min_soc_pct <= 100.0, "min_soc", options.min_soc_pct,
             "a percentage 0..100"),
            (math.isfinite(options.opportunistic_price_cap), "price_cap",
             options.opportunistic_price_cap, "a finite price"),
        ]
        for name, optional in (("opportunistic_limit", options.opportunistic_limit_soc_pct),
                               ("unknown_price", options.unknown_price)):
            if optional is not None:
                checks.append((math.isfinite(optional), name, optional, "a finite number"))
    for ok, name, value, expected in checks:
        if not ok:
            raise InputError(f"{name}: {value:g} is not valid; use "
                             f"{expected.format(max_power=request.max_power_kw)}")


def check_horizon(now: datetime, departure: datetime) -> None:
    """Refuse a departure more than `MAX_HORIZON` ahead, before anything is built for it."""
    if departure - now > MAX_HORIZON:
        raise InputError(
            f"departure: {departure.isoformat()} is {(departure - now).days} days after now "
            f"({now.isoformat()}); plan at most {MAX_HORIZON.days} days ahead"
        )


def plan(request: PlanRequest, options: PlanOptions | None = None) -> ChargePlan:
    options = options or PlanOptions()
    validate_request(request, options)
    now, departure = request.now, request.departure
    if departure <= now:
        reached = request.soc_pct >= request.target_soc_pct
        return _empty(request, reached, "departure already passed; nothing to plan")

    limit = power_limit(request.max_power_kw, request.taper)
    pct_per_kwh = request.efficiency * 100.0 / request.capacity_kwh
    full_kwh = max(0.0, 100.0 - request.soc_pct) / pct_per_kwh
    need_kwh = max(0.0, request.target_soc_pct - request.soc_pct) / pct_per_kwh
    extra_kwh = 0.0
    if options.opportunistic_limit_soc_pct is not None:
        floor = max(request.soc_pct, request.target_soc_pct)
        extra_kwh = max(0.0, options.opportunistic_limit_soc_pct - floor) / pct_per_kwh
    min_kwh = max(0.0, options.min_soc_pct - request.soc_pct) / pct_per_kwh
    if max(need_kwh, min_kwh, extra_kwh) <= ENERGY_RESOLUTION_KWH:
        return _empty(
            request, True,
            f"SoC {request.soc_pct:g}% is already at or above the target "
            f"{request.target_soc_pct:g}%",
        )

    deadline = departure - timedelta(minutes=options.buffer_minutes)
    horizon = build_horizon(
        request.prices, now, departure, deadline if now < deadline < departure else None,
        options.unknown_price, request.forecast_from,
    )
    deadline_s = deadline.timestamp()
    usable_full = len(horizon)
    usable_buffered = horizon.first_after(deadline_s) if options.buffer_minutes else usable_full

    reason: str | None = None
    usable = usable_buffered
    if not _surely_reachable(horizon, limit, usable_buffered, need_kwh):
        asap = _asap(horizon, limit, request.soc_pct, pct_per_kwh, usable_full, need_kwh)
        by_deadline = asap if usable_buffered == usable_full else asap[:usable_buffered]
        if sum(by_deadline) < need_kwh - ENERGY_RESOLUTION_KWH:
            if sum(asap) < need_kwh - ENERGY_RESOLUTION_KWH:
                return _infeasible(request, horizon, limit, pct_per_kwh, full_kwh)
            usable = usable_full
            reason = (
                f"the {options.buffer_minutes}-minute safety buffer is partly used: the "
                f"target cannot be reached earlier"
            )

    forced = (_asap(horizon, limit, request.soc_pct, pct_per_kwh, usable, min_kwh)
              if min_kwh > ENERGY_RESOLUTION_KWH else [0.0] * usable_full)
    if usable < usable_full:
        forced = forced[:usable]
    min_run_slots = -(-options.min_run_minutes // 15) if options.min_run_minutes else 1
    min_power_kw = request.min_power_kw
    if min_run_slots > 1 or options.start_penalty > 0 or options.mode == "block":
        min_power_kw = max(min_power_kw, MIN_AC_POWER_KW)
    problem = Problem(
        horizon=_truncate(horizon, usable),
        forced_kwh=forced,
        need_kwh=max(need_kwh, sum(forced)),
        extra_kwh=extra_kwh,
        extra_price_cap=options.opportunistic_price_cap,
        full_kwh=full_kwh,
        limit=limit,
        soc_pct=request.soc_pct,
        pct_per_kwh=pct_per_kwh,
        min_power_kw=min(min_power_kw, limit.at(request.target_soc_pct)),
        min_run_slots=min_run_slots,
        start_penalty=options.start_penalty,
        single_block=options.mode == "block",
        charging_now=options.charging_now,
    )
    if problem.is_linear and horizon.uniform_price:
        problem = _earliest_first(problem)
    method, energy, optimal = _solve(problem, options.time_limit_s)
    if not energy:  # never expected once the target is reachable; honest if it happens
        return _infeasible(request, horizon, limit, pct_per_kwh, full_kwh,
                           f"the solver ({method}) found no plan; charging at full power")
    if not optimal:
        reason = _join(reason, (
            f"the solver stopped at its {options.time_limit_s:g} s time limit ({method}): "
            f"this is the best plan it found and may not be the cheapest"
        ))
    if usable < usable_full:
        energy = energy + [0.0] * (usable_full - usable)
    result = _assemble(request, horizon, energy, pct_per_kwh, True, reason, method)
    note = _price_note(result, horizon, options.unknown_price is not None)
    return replace(result, reason=_join(result.reason, note)) if note else result


def _earliest_first(problem: Problem) -> Problem:
    """The same linear problem with each slot priced by its position: the earliest plan wins.

    When every slot costs the same (no price is published, a flat tariff, one fallback price
    everywhere), the earliest plan is as cheap as any and leaves the most slack before
    departure. Opportunistic energy is then worth taking in every slot or in none.
    Only for a linear problem, whose energy is the need: with a minimum power a plan may
    overshoot the need, and the overshoot costs real money, which prices by position would hide
    (the minimum-power solver breaks ties towards the earliest slots itself, the MILP with a
    second solve).
    """
    n = len(problem.horizon)
    price = problem.horizon.prices[0] if n else 0.0
    worth_it = price < problem.extra_price_cap
    return replace(
        problem,
        horizon=replace(problem.horizon, prices=[float(i) for i in range(n)]),
        extra_price_cap=float(n) if worth_it else -1.0,
    )


def _solve(problem: Problem, time_limit_s: float) -> tuple[str, list[float], bool]:
    """(method, energy per slot, provably optimal?) from the solver that fits the problem."""
    if problem.is_linear:
        return "greedy", solve_greedy(problem), True
    if minpower.applies(problem):
        return "min-power", minpower.solve_min_power(problem), True
    # Imported here: most plans never need it, and with ctypes and its HiGHS set-up it is a
    # fifth of the start-up of `plan --batch`.
    from optimizer.planner.milp import solve_milp

    found = solve_milp(problem, time_limit_s)
    return f"highs ({found.status})", found.energy_kwh, found.optimal


def _price_note(result: ChargePlan, horizon: Horizon, fallback_given: bool) -> str | None:
    """Why the plan charges when it does, where prices are not (all) published."""
    if not horizon.any_provisional:  # first: the charging slots are objects made on demand
        return None
    charging = result.charging_slots
    if not charging:
        return None
    first = charging[0].start.isoformat(timespec="minutes")
    if not horizon.any_known:
        if fallback_given:
            return (
                f"no price is published between now and departure: every slot uses the "
                f"fallback price {horizon.fallback_price:.4f}, so the plan charges as early "
                f"as possible (from {first}); it will change when prices arrive"
            )
        return (
            f"no price is published between now and departure: the plan charges as early as "
            f"possible (from {first}) and its cost is unknown; give a fallback price "
            f"(unknown_price) or newer prices"
        )
    count = sum(1 for s in charging if s.provisional)
    if not count:
        return None
    if horizon.fallback_price is None:  # every provisional slot is priced on the forecast
        return provisional_note(count, horizon)
    unknown_from = next(
        to_datetime(start, result.now) for start, unknown
        in zip(horizon.starts, horizon.provisional, strict=True) if unknown
    ).isoformat(timespec="minutes")
    why = (
        "the unknown_price given: they are chosen like published slots at that price, the "
        "earliest first"
        if fallback_given
        else "just above the highest published one, so they are used only because the "
        "published slots do not suffice"
    )
    return (
        f"no price is published from {unknown_from}: {count} charging slot(s) use the "
        f"fallback price {horizon.fallback_price:.4f}, {why}; the plan will change when "
        f"prices arrive"
    )


def _join(first: str | None, second: str | None) -> str | None:
    parts = [part for part in (first, second) if part]
    return "; ".join(parts) if parts else None


def _surely_reachable(horizon: Horizon, limit: PowerLimit, usable: int, need_kwh: float) -> bool:
    """Whether full power in the first `usable` slots, without a taper, delivers the need with
    room to spare: then charging at full power from now (`_asap`) reaches it too, and that
    slot-by-slot check is skipped. (A need never exceeds what is left to 100 %, so only the
    power and the time can stop it.)"""
    if limit.lines:
        return False
    hours = horizon.hours if usable == len(horizon) else horizon.hours[:usable]
    return limit.max_power_kw * sum(hours) > need_kwh * (1.0 + 1e-9) + ENERGY_RESOLUTION_KWH


def _asap(
    horizon: Horizon, limit: PowerLimit, soc_pct: float, pct_per_kwh: float, usable: int,
    wanted_kwh: float,
) -> list[float]:
    """Charge at the power limit from now until `wanted_kwh` (or 100 %) is delivered."""
    energy = [0.0] * len(horizon)
    soc = soc_pct
    remaining = wanted_kwh
    hours = horizon.hours
    tapered = bool(limit.lines)
    max_power_kw = limit.max_power_kw  # without a taper, a slot's cap is power x duration
    for i in range(usable):
        if remaining <= ENERGY_RESOLUTION_KWH or soc >= 100.0:
            break
        cap = (limit.max_energy(hours[i], soc, pct_per_kwh) if tapered
               else max_power_kw * hours[i])
        take = min(cap, remaining, (100.0 - soc) / pct_per_kwh)
        energy[i] = take
        remaining -= take
        soc += take * pct_per_kwh
    return energy


def _truncate(horizon: Horizon, usable: int) -> Horizon:
    if usable == len(horizon):
        return horizon
    return Horizon(
        starts=horizon.starts[:usable],
        ends=horizon.ends[:usable],
        hours=horizon.hours[:usable],
        prices=horizon.prices[:usable],
        provisional=horizon.provisional[:usable],
        fallback_price=horizon.fallback_price,
        any_known=horizon.any_known,
    )


def _infeasible(
    request: PlanRequest, horizon: Horizon, limit: PowerLimit, pct_per_kwh: float,
    full_kwh: float, why: str | None = None,
) -> ChargePlan:
    energy = _asap(horizon, limit, request.soc_pct, pct_per_kwh, len(horizon), full_kwh)
    reached = request.soc_pct + sum(energy) * pct_per_kwh
    reason = why or (
        f"target {request.target_soc_pct:g}% cannot be reached by departure: charging at full "
        f"power from now gives {reached:.1f}%"
    )
    return _assemble(request, horizon, energy, pct_per_kwh, False, reason, "asap")


def _assemble(
    request: PlanRequest, horizon: Horizon, energy: list[float], pct_per_kwh: float,
    feasible: bool, reason: str | None, method: str,
) -> ChargePlan:
    # Solvers leave crumbs of 1e-9 kWh in slots that are off; a micro-watt-hour is noise.
    # Only the slots that charge are visited one by one: most of a horizon is idle.
    charging = list(compress(range(len(energy)), map(ENERGY_RESOLUTION_KWH.__lt__, energy)))
    energies = [0.0] * len(energy)
    powers = [0.0] * len(energy)
    hours = horizon.hours
    floor = request.min_power_kw
    soc = request.soc_pct
    for i in charging:
        e = energy[i]
        h = hours[i]
        if h > 0:
            power = e / h
            if 0.0 < power < floor and power > floor - 1e-4:
                power = floor  # a solver's rounding just below the floor
                e = floor * h
            powers[i] = power
        energies[i] = e
        soc += e * pct_per_kwh  # in the order of SlotTable.socs, so the same last SoC
    if soc > 100.0:
        soc = 100.0
    total_energy = sum(energies)
    total_cost = sum(map(mul, energies, horizon.prices))
    provisional = any(compress(horizon.provisional, energies))  # a fallback price that charges
    if feasible and soc < request.target_soc_pct - 1e-6:
        feasible = False
        reason = f"the plan reaches only {soc:.1f}% (internal error; please report)"
    return ChargePlan(
        feasible=feasible,
        reason=reason,
        now=request.now,
        departure=request.departure,
        soc_start_pct=request.soc_pct,
        target_soc_pct=request.target_soc_pct,
        soc_at_departure_pct=soc,
        energy_kwh=total_energy,
        cost=total_cost,
        slots=SlotTable(horizon.starts, horizon.ends, request.now.tzinfo, powers, energies,
                        horizon.prices, horizon.provisional, request.soc_pct, pct_per_kwh,
                        [i for i in charging if powers[i] > 0]),
        provisional=provisional,
        method=method,
    )


def _empty(request: PlanRequest, feasible: bool, reason: str) -> ChargePlan:
    nothing = Horizon(starts=[], ends=[], hours=[], prices=[], provisional=[],
                      fallback_price=None)
    return _assemble(request, nothing, [], 0.0, feasible, reason, "none")
