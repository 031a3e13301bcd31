"""Run every strategy on every session and sum up what each one paid.

Costs are the energy each strategy drew in a slot times that slot's true price, whatever the
strategy believed when it planned. A session counts as `missed` when a strategy did not deliver
its energy by departure (within the planner's energy resolution plus 1 Wh of rounding).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from optimizer.backtest.market import Market
from optimizer.backtest.sessions import Session
from optimizer.backtest.strategies import Charger, Draw, dumb, evcc_like, optimum, ours
from optimizer.planner import PlanOptions

STRATEGIES = ("dumb", "evcc_like", "ours", "optimum")
MISSED_TOLERANCE_KWH = 1e-3


@dataclass(slots=True)
class StrategyResult:
    cost: float = 0.0
    energy_kwh: float = 0.0
    missed: int = 0
    session_costs: list[float] = field(default_factory=list)
    session_energy_kwh: list[float] = field(default_factory=list)
    draw_by_slot: dict[int, float] = field(default_factory=dict)


@dataclass(slots=True)
class BacktestResult:
    sessions: list[Session]
    strategies: dict[str, StrategyResult]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sessions": len(self.sessions), "strategies": {},
                               "saving_vs_dumb": {}}
        for name, result in self.strategies.items():
            out["strategies"][name] = {
                "cost": result.cost,
                "energy_kwh": result.energy_kwh,
                "missed": result.missed,
                "avg_price": result.cost / result.energy_kwh if result.energy_kwh else None,
            }
        base = self.strategies["dumb"].cost
        for name in STRATEGIES[1:]:
            amount = base - self.strategies[name].cost
            out["saving_vs_dumb"][name] = {
                "amount": amount,
                "pct": 100.0 * amount / base if base else None,
            }
        return out


def run_backtest(
    sessions: Sequence[Session],
    market: Market,
    charger: Charger,
    options: PlanOptions,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    runs: dict[str, Callable[[Session], Draw]] = {
        "dumb": lambda s: dumb(s, charger),
        "evcc_like": lambda s: evcc_like(s, charger, market),
        "ours": lambda s: ours(s, charger, market, options),
        "optimum": lambda s: optimum(s, charger, market, options),
    }
    results = {name: StrategyResult() for name in STRATEGIES}
    for done, session in enumerate(sessions, start=1):
        for name, run in runs.items():
            draw = run(session)
            energy = sum(draw.values())
            cost = sum(kwh * market.true_price(slot) for slot, kwh in draw.items())
            result = results[name]
            result.cost += cost
            result.energy_kwh += energy
            result.session_costs.append(cost)
            result.session_energy_kwh.append(energy)
            if energy < session.energy_kwh - MISSED_TOLERANCE_KWH:
                result.missed += 1
            for slot, kwh in draw.items():
                result.draw_by_slot[slot] = result.draw_by_slot.get(slot, 0.0) + kwh
        if progress is not None:
            progress(done, len(sessions))
    return BacktestResult(list(sessions), results)
