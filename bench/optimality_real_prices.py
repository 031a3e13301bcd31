"""Optimality and target-met rate on real DE-LU prices (2024), against the independent SciPy
reference in bench/planner_reference.py, over many random requests.

Run: .venv/bin/python bench/optimality_real_prices.py [--count N]
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.planner_reference import reference_cost  # noqa: E402
from optimizer.planner import PlanOptions, PlanRequest, plan  # noqa: E402
from optimizer.planner.planner import MIN_AC_POWER_KW  # noqa: E402
from optimizer.tariffs import load_tariff, read_price_csv  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    spot = read_price_csv(REPO / "tariffs" / "prices" / "de_lu_dayahead_2024.csv")
    tariff = load_tariff(REPO / "tariffs" / "de_dynamic.toml")
    rng = random.Random(2024)
    first = spot.starts[0]
    span_h = int((spot.end - first).total_seconds() // 3600) - 48
    cases: dict[str, list[float]] = {
        "spot, no min power (vs LP)": [],
        "end price, min power 4.14 kW (vs MILP)": [],
        "end price, min power + 30 min runs (vs MILP)": [],
    }
    met = {name: 0 for name in cases}
    reachable = {name: 0 for name in cases}
    for index in range(args.count):
        now = first + timedelta(hours=rng.randrange(span_h), minutes=rng.choice([0, 7, 15, 40]))
        departure = now + timedelta(hours=rng.uniform(4, 36))
        base = PlanRequest(
            now=now, departure=departure, soc_pct=rng.uniform(5, 70),
            target_soc_pct=rng.uniform(50, 100), capacity_kwh=rng.choice([37.9, 64.7, 76.4]),
            max_power_kw=rng.choice([7.4, 11.0, 22.0]), efficiency=rng.uniform(0.85, 0.93),
            prices=spot.price_slots(now, departure),
        )
        need = max(0.0, base.target_soc_pct - base.soc_pct) / 100 * base.capacity_kwh / (
            base.efficiency)
        end_prices = tariff.price_slots(now, departure)
        runs = {
            "spot, no min power (vs LP)": (base, PlanOptions(), 0.0, 1),
            "end price, min power 4.14 kW (vs MILP)": (
                replace(base, min_power_kw=4.14, prices=end_prices), PlanOptions(), 4.14, 1),
            "end price, min power + 30 min runs (vs MILP)": (
                replace(base, min_power_kw=4.14, prices=end_prices),
                PlanOptions(min_run_minutes=30), max(4.14, MIN_AC_POWER_KW), 2),
        }
        for name, (request, options, floor, run_slots) in runs.items():
            if "runs" in name and index % 5:  # the MILP reference is slow; a fifth is enough
                continue
            result = plan(request, options)
            ref = reference_cost(request.prices, now, departure, need, request.max_power_kw,
                                 floor, run_slots)
            if not ref.feasible:
                continue
            reachable[name] += 1
            met[name] += result.soc_at_departure_pct >= request.target_soc_pct - 1e-6
            gap = (result.cost - ref.cost) / max(abs(ref.cost), 1e-9)
            cases[name].append(gap)
    # Relative cost gaps; a negative one (cheaper than the exact optimum) would mean a broken
    # constraint.
    print(f"{'case':<46} {'requests':>8} {'target met':>10} {'min gap':>9} {'max gap':>9}")
    for name, gaps in cases.items():
        print(f"{name:<46} {reachable[name]:>8} {met[name]:>10} "
              f"{min(gaps):>+9.1e} {max(gaps):>+9.1e}")


if __name__ == "__main__":
    main()
