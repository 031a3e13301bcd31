"""Measure the price forecast models on the real series, and what the forecast is worth.

1. Accuracy: every day D, the forecast of day D+1 made from the prices up to the end of D (what
   is known before the 12:45 publication), against the real D+1 prices: mean absolute error,
   and the mean Spearman rank correlation within the day (the shape is what moves a plan).
2. Value: the cost of `ours` on sessions that plug in before publication (10:00 -> 07:30 the
   next day, 22 kWh, 11 kW, every day) with each model, against "wait for prices" (plan the
   unknown slots as if free, so nothing is bought before the prices are out) and "known only"
   (the planner's own fallback: unknown slots at the highest known price).

    .venv/bin/python bench/eval_forecast.py            # all series, about a minute
    .venv/bin/python bench/eval_forecast.py --quick    # DE-LU 2024 only
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from real_data import real_data_dir

from optimizer.backtest.market import Market
from optimizer.backtest.runner import run_backtest
from optimizer.backtest.sessions import Commute, check_sessions
from optimizer.backtest.strategies import Charger
from optimizer.planner import PlanOptions
from optimizer.prices.forecast import MODELS, LocalCalendar, forecast
from optimizer.prices.grid import PriceGrid
from optimizer.prices.schedule import Publication, parse_clock

SERIES = {
    "DE-LU 2024": ("prices/de_lu_dayahead_hourly_2024-01_2025-09.csv", "price_eur_mwh", 0.001,
                   "2024", "Europe/Brussels", "12:45"),
    "NL 2024": ("prices/nl_dayahead_hourly_2015-2025-01.csv", "price_eur_mwh", 0.001, "2024",
                "Europe/Brussels", "12:45"),
    "DK2 2021": ("prices/dk2_elspot_hourly_2017-2022-10.csv", "price_eur_mwh", 0.001, "2021",
                 "Europe/Brussels", "12:45"),
    "GB Agile 2020": ("prices/gb_octopus_agile_region_A_halfhourly_2018-02_2021-08.csv",
                      "price_p_per_kwh_inc_vat", 0.01, "2020", "Europe/London", "16:00"),
}


def load_grid(real: Path, name: str) -> PriceGrid:
    path, column, scale, year, _, _ = SERIES[name]
    frame = pd.read_csv(real / path)
    stamps = pd.to_datetime(frame["timestamp_utc"], utc=True)
    keep = stamps.dt.year == int(year)
    stamps, values = stamps[keep], frame[column][keep].to_numpy(float) * scale
    starts = [t.to_pydatetime() for t in stamps]
    ends = [*starts[1:], starts[-1] + (starts[-1] - starts[-2])]
    return PriceGrid.from_intervals(zip(starts, ends, values.tolist(), strict=True))


def accuracy(grid: PriceGrid, tz: ZoneInfo) -> dict[str, tuple[float, float]]:
    calendar = LocalCalendar.build(grid.first - 96 * 30, grid.first + len(grid) + 96 * 3, tz)
    values = grid.values
    # day boundaries in local time
    days = sorted({t for t in range(grid.first, grid.first + len(grid))
                   if calendar.at(t, t + 1)[0][0] == 0})
    out = {}
    for model in MODELS:
        errors, ranks = [], []
        for a, b in pairwise(days):
            if a - grid.first < 28 * 96:
                continue
            history = values[: a - grid.first]
            predicted = forecast(history, grid.first, a, b, calendar, model)
            real = values[a - grid.first : b - grid.first]
            ok = ~np.isnan(real)
            errors.append(np.mean(np.abs(predicted[ok] - real[ok])))
            rp = pd.Series(predicted[ok]).rank().to_numpy()
            rr = pd.Series(real[ok]).rank().to_numpy()
            if np.std(rp) > 0 and np.std(rr) > 0:
                ranks.append(np.corrcoef(rp, rr)[0, 1])
        out[model] = (float(np.mean(errors)), float(np.mean(ranks)))
    return out


def value(grid: PriceGrid, name: str) -> dict[str, float]:
    _, _, _, _, tz_name, published = SERIES[name]
    tz = ZoneInfo(tz_name)
    publication = Publication(parse_clock(published), tz)
    start = grid.start.timestamp() + 28 * 86400  # a month of history first
    sessions = Commute.parse("10:00-07:30,22kWh").sessions(
        datetime.fromtimestamp(start, UTC), grid.end, tz)
    sessions = check_sessions(sessions, grid.start, grid.end, name)
    charger = Charger(11.0)
    out: dict[str, float] = {}
    optimum = dumb = 0.0
    for model in (*MODELS, "known only", "wait"):
        forecast_model = None if model in ("known only", "wait") else model
        market = Market.build(grid, publication, forecast_model)  # type: ignore[arg-type]
        options = PlanOptions(unknown_price=-1e3 if model == "wait" else None)
        result = run_backtest(sessions, market, charger, options).to_json()
        out[model] = result["strategies"]["ours"]["cost"]
        optimum = result["strategies"]["optimum"]["cost"]
        dumb = result["strategies"]["dumb"]["cost"]
        assert result["strategies"]["ours"]["missed"] == 0
    out["optimum"] = optimum
    out["dumb"] = dumb
    out["sessions"] = len(sessions)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="DE-LU 2024 only")
    args = parser.parse_args()
    real = real_data_dir()
    if real is None:
        print("skipped: ../shared/data/real is absent", file=sys.stderr)
        return 1
    names = ["DE-LU 2024"] if args.quick else list(SERIES)
    for name in names:
        grid = load_grid(real, name)
        tz = ZoneInfo(SERIES[name][4])
        print(f"== {name}: forecast of D+1 from the prices up to the end of D")
        print(f"{'model':<26} {'MAE/kWh':>9} {'rank corr':>9}")
        for model, (mae, rank) in accuracy(grid, tz).items():
            print(f"{model:<26} {mae:>9.4f} {rank:>9.3f}")
        costs = value(grid, name)
        dumb, optimum = costs.pop("dumb"), costs.pop("optimum")
        count = int(costs.pop("sessions"))
        print(f"-- ours on {count} sessions plugging in at 10:00 (before publication), "
              f"leaving 07:30, 22 kWh at 11 kW; saving captured = (dumb - cost)/(dumb - optimum)")
        for model, cost in costs.items():
            captured = 100 * (dumb - cost) / (dumb - optimum)
            print(f"{model:<26} cost {cost:9.2f}  captured {captured:6.2f} %")
        print(f"{'optimum':<26} cost {optimum:9.2f}   dumb {dumb:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
