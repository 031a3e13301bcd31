"""Backtest speed and savings on the shipped real price years, through the real CLI.

Every figure is one `ev-optimizer backtest --json` run as a subprocess (start-up included):

* speed: a year of daily sessions on DE-LU 2024 (366 plug-ins at 18:00, 22 kWh, 11 kW), and a
  year plugging in at 10:00 (before publication, so every session re-plans when prices arrive);
* savings: the weekday commute 18:00 -> 07:30, 22 kWh, 11 kW on DE-LU 2024, NL 2024 and GB
  Agile 2020 (region A, published 16:00 Europe/London), and the real ACN sessions (moved into
  2024, see bench/acn_sessions.py) on DE-LU and NL. "captured" = ours' saving / optimum's.

    .venv/bin/python bench/bench_backtest.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from acn_sessions import acn_sessions
from real_data import real_data_dir

REPO = Path(__file__).resolve().parents[1]
PRICES = REPO / "tariffs" / "prices"
COMMUTE = "18:00-07:30,22kWh,Mon-Fri"


def backtest(*args: str) -> tuple[dict[str, object], float]:
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "optimizer", "backtest", "--max-power", "11", "--json", *args],
        capture_output=True, text=True, cwd=REPO, check=True,
    )
    return json.loads(run.stdout), time.perf_counter() - started


def line(label: str, data: dict[str, object], seconds: float) -> str:
    strategies = data["strategies"]
    saving = data["saving_vs_dumb"]
    assert isinstance(strategies, dict) and isinstance(saving, dict)
    best = saving["optimum"]["amount"]
    captured = {k: 100 * saving[k]["amount"] / best if best else 100.0
                for k in ("ours", "evcc_like")}
    missed = {k: v["missed"] for k, v in strategies.items()}
    return (f"{label:<34} {data['sessions']:>5} sessions  dumb {strategies['dumb']['cost']:8.2f}"
            f"  evcc {strategies['evcc_like']['cost']:8.2f}  ours {strategies['ours']['cost']:8.2f}"
            f"  optimum {strategies['optimum']['cost']:8.2f}  saving {saving['ours']['pct']:5.1f} %"
            f"  captured ours {captured['ours']:.3f} % evcc {captured['evcc_like']:.2f} %"
            f"  missed {missed}  {seconds:.1f} s")


def main() -> int:
    de, nl, agile = (str(PRICES / f) for f in (
        "de_lu_dayahead_2024.csv", "nl_dayahead_2024.csv", "gb_agile_a_2020.csv"))
    berlin = ("--timezone", "Europe/Berlin")
    print("== speed (cold CLI, one run each)")
    for label, commute in (("DE-LU 2024 daily 18:00-07:30", "18:00-07:30,22kWh"),
                           ("DE-LU 2024 daily 10:00-07:30", "10:00-07:30,22kWh")):
        data, seconds = backtest("--prices", de, "--commute", commute, *berlin)
        print(line(label, data, seconds))
    print("== weekday commute 18:00 -> 07:30, 22 kWh, 11 kW")
    print(line("DE-LU 2024", *backtest("--prices", de, "--commute", COMMUTE, *berlin)))
    print(line("NL 2024", *backtest("--prices", nl, "--commute", COMMUTE,
                                    "--timezone", "Europe/Amsterdam")))
    print(line("GB Agile A 2020", *backtest(
        "--prices", agile, "--commute", COMMUTE, "--timezone", "Europe/London",
        "--published-at", "16:00", "--publication-tz", "Europe/London")))
    real = real_data_dir()
    if real is None:
        print("ACN: skipped, ../shared/data/real is absent")
        return 0
    print("== real ACN sessions moved into 2024 (non-overlapping, feasible at 11 kW)")
    with tempfile.TemporaryDirectory() as tmp:
        for label, prices, tz in (("ACN on DE-LU 2024", de, "Europe/Berlin"),
                                  ("ACN on NL 2024", nl, "Europe/Amsterdam")):
            sessions = Path(tmp) / f"acn_{tz.split('/')[1]}.csv"
            acn_sessions(real, 2024, ZoneInfo(tz), 11.0).to_csv(sessions, index=False)
            print(line(label, *backtest("--prices", prices, "--sessions", str(sessions))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
