"""Joint planning speed: `plan --fleet` as a whole CLI process, for a depot day and a week.

Fleets come from real charging sessions (Caltech/JPL ACN-Data, /work/shared/data/real/sessions)
on real DE-LU day-ahead prices: each session's dwell time becomes a departure after `now`, its
delivered energy the grid energy to reach the target, and the site limit is a share of the sum
of the chargers' powers, so that it binds in the cheap hours.

- depot day: 200 vehicles, 96 slots (the longest stay is cut to 24 h);
- week: 20 vehicles, 672 slots (stays of at least 12 h, the longest cut to 7 days).

Run: .venv/bin/python bench/bench_fleet.py [--repeat N]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PRICES = REPO / "tariffs" / "prices" / "de_lu_dayahead_2024.csv"
SESSIONS = Path("/work/shared/data/real/sessions/acn_caltech_jpl_sessions_2019-2021.csv")


def _sessions() -> list[tuple[float, float]]:
    """(dwell hours, delivered kWh) of the AC sessions (the DC fast charger left out)."""
    out = []
    with SESSIONS.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["station_id"] == "11900388" or not row["delivered_energy_kwh"]:
                continue
            arrival = datetime.fromisoformat(row["arrival_utc"].replace("Z", "+00:00"))
            departure = datetime.fromisoformat(row["departure_utc"].replace("Z", "+00:00"))
            hours = (departure - arrival).total_seconds() / 3600
            energy = float(row["delivered_energy_kwh"])
            if hours > 0.5 and energy > 0.5:
                out.append((hours, energy))
    return out


def fleet(count: int, horizon_h: float, min_stay_h: float, share: float, seed: int,
          now: datetime) -> dict[str, Any]:
    rng = random.Random(seed)
    pool = [s for s in _sessions() if s[0] >= min_stay_h]
    chosen = rng.sample(pool, count)
    chosen[0] = (horizon_h, chosen[0][1])  # one stays the whole horizon: the slot count is exact
    vehicles = []
    for index, (hours, energy) in enumerate(chosen):
        stay_h = min(hours, horizon_h)
        max_kw = rng.choice((7.4, 11.0))
        grid_kwh = min(energy, 0.8 * max_kw * stay_h)  # what the car itself could take
        capacity = 80.0
        soc = rng.uniform(5, 30)
        target = min(100.0, soc + grid_kwh * 0.9 / capacity * 100)
        departure = now + timedelta(hours=stay_h)
        vehicles.append({
            "name": f"ev{index:03d}", "soc": soc, "target": target, "capacity": capacity,
            "departure": departure.isoformat(), "max_power": max_kw,
        })
    site_kw = share * sum(v["max_power"] for v in vehicles)
    return {"prices": str(PRICES), "now": now.isoformat(), "site_max_power_kw": site_kw,
            "vehicles": vehicles}


def _cli(path: Path) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "optimizer", "plan", "--fleet", str(path), "--json"],
        capture_output=True, text=True, check=True,
    )
    return time.perf_counter() - started, json.loads(done.stdout)


def _in_process(path: Path) -> float:
    from optimizer.planner.fleet import plan_fleet
    from optimizer.planner.fleet_io import load_fleet

    request = load_fleet(path)
    started = time.perf_counter()
    plan_fleet(request)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    now = datetime(2024, 6, 11, 16, 7, 30, tzinfo=UTC)
    cases = [
        ("depot day: 200 vehicles x 96 slots", fleet(200, 24.0, 0.5, 0.35, 1, now)),
        ("week: 20 vehicles x 672 slots", fleet(20, 168.0, 12.0, 0.5, 2, now)),
    ]
    print(f"{'case':<38} {'CLI median s':>12} {'CLI max s':>10} {'solve s':>8}  result")
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in cases:
            path = Path(tmp) / "fleet.json"
            path.write_text(json.dumps(data), encoding="utf-8")
            runs = [_cli(path) for _ in range(args.repeat)]
            times = [t for t, _ in runs]
            out = runs[0][1]
            slots = max(len(v["slots"]) for v in out["vehicles"])
            met = sum(v["feasible"] for v in out["vehicles"])
            solve = statistics.median(_in_process(path) for _ in range(args.repeat))
            print(f"{name:<38} {statistics.median(times):>12.2f} {max(times):>10.2f} "
                  f"{solve:>8.2f}  {met}/{len(out['vehicles'])} targets met, cost "
                  f"{out['cost']:.2f}, {out['method']}, busiest car {slots} slots")


if __name__ == "__main__":
    main()
