"""The baseline `bench_planner.py` compares `plan --batch` with: one HiGHS LP per request.

Run as its own process on the same JSONL batch, it does the same job with a solver per plan
and nothing of ours: reads the price CSV once, builds each request's 15-minute grid from now to
departure, solves `min Σ price e, Σ e = need, 0 <= e <= max_power h` (a minimum power relaxed:
this is the floor of what a solver per plan costs) and prints each plan as JSON with its
charging slots, like `plan --batch` does.

Run: .venv/bin/python bench/lp_per_plan.py FILE.jsonl
"""

from __future__ import annotations

import csv
import json
import sys
from bisect import bisect_right
from datetime import UTC, datetime
from pathlib import Path

import highspy
import numpy as np


def main(path: Path) -> None:
    series: dict[str, tuple[list[float], list[float]]] = {}
    solver = None
    out = sys.stdout
    for line in path.read_text().splitlines():
        item = json.loads(line)
        if item["prices"] not in series:
            with open(item["prices"], newline="") as handle:
                rows = list(csv.DictReader(handle))
            stamps = [datetime.fromisoformat(r["start"]).timestamp() for r in rows]
            series[item["prices"]] = (stamps, [float(r["price"]) for r in rows])
        stamps, values = series[item["prices"]]
        now = datetime.fromisoformat(item["now"])
        t0 = now.timestamp()
        t1 = datetime.fromisoformat(item["departure"]).timestamp()
        bounds = np.array([t0, *range(int(t0 // 900 + 1) * 900, int(t1), 900), t1])
        hours = np.diff(bounds) / 3600
        first = bisect_right(stamps, bounds[0]) - 1
        cost = np.array([values[bisect_right(stamps, b, lo=first) - 1] for b in bounds[:-1]])
        need = (item["target"] - item["soc"]) / 100 * item["capacity"] / 0.9
        if solver is None:
            solver = highspy.Highs()  # type: ignore[no-untyped-call]
            solver.setOptionValue("output_flag", False)
        else:
            solver.clearModel()
        n = len(hours)
        solver.addVars(n, np.zeros(n), item["max_power"] * hours)
        solver.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
        solver.addRow(need, need, n, np.arange(n, dtype=np.int32), np.ones(n))
        solver.run()
        energy = solver.getSolution().col_value
        slots = [
            {"start": datetime.fromtimestamp(bounds[i], UTC).astimezone(now.tzinfo).isoformat(),
             "end": datetime.fromtimestamp(bounds[i + 1], UTC).astimezone(now.tzinfo).isoformat(),
             "power_kw": energy[i] / hours[i], "energy_kwh": energy[i], "price": cost[i]}
            for i in range(n) if energy[i] > 1e-9
        ]
        out.write(json.dumps({"feasible": True, "cost": solver.getInfo().objective_function_value,
                              "energy_kwh": float(sum(energy)), "slots": slots}) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
