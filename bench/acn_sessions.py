"""Make a backtest sessions file from the real ACN sessions, moved into a price year.

ACN-Data (Caltech/JPL, 2019-2021) are the only long real session log we have, but the price
series are from other years. Each session keeps its local wall-clock arrival and departure and
its energy; its date moves by a whole number of weeks (so the weekday stays) into the price
year, and it is re-localised to the price zone's time. One car charges one session at a time,
so overlapping sessions are dropped (first come, first kept). The DC fast charger (space
11900388) and sessions the charger cannot fill (energy > max power × duration) are dropped too.

    python bench/acn_sessions.py --year 2024 --tz Europe/Berlin --max-power 11 > sessions.csv
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from real_data import real_data_dir

ACN = Path("sessions") / "acn_caltech_jpl_sessions_2019-2021.csv"
FAST_CHARGER = "11900388"


def acn_sessions(real: Path, year: int, tz: ZoneInfo, max_power_kw: float) -> pd.DataFrame:
    raw = pd.read_csv(real / ACN, dtype={"station_id": str})
    raw = raw[raw["station_id"] != FAST_CHARGER]
    moved = []
    for arrival_text, departure_text, energy in zip(
        raw["arrival_local"], raw["departure_local"], raw["delivered_energy_kwh"], strict=True
    ):
        arrival_src = datetime.fromisoformat(arrival_text).replace(tzinfo=None)
        departure_src = datetime.fromisoformat(departure_text).replace(tzinfo=None)
        weeks = round((date(year, 1, 1) - date(arrival_src.year, 1, 1)).days / 7)
        shift = timedelta(weeks=weeks)
        arrival = (arrival_src + shift).replace(tzinfo=tz)
        departure = (departure_src + shift).replace(tzinfo=tz)
        if arrival.year == year and departure.year == year and departure > arrival:
            moved.append((arrival, departure, float(energy)))
    rows = []
    last_departure: datetime | None = None
    for arrival, departure, energy in sorted(moved):
        hours = (departure - arrival).total_seconds() / 3600.0
        if energy <= 0 or energy > max_power_kw * hours * 0.999:
            continue
        if last_departure is not None and arrival < last_departure:
            continue
        rows.append((arrival.isoformat(), departure.isoformat(), round(energy, 3)))
        last_departure = departure
    return pd.DataFrame(rows, columns=["arrival", "departure", "energy_kwh"]).sort_values(
        "arrival")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--tz", default="Europe/Berlin")
    parser.add_argument("--max-power", type=float, default=11.0)
    args = parser.parse_args()
    real = real_data_dir()
    if real is None:
        print("skipped: ../shared/data/real is absent (the shared real data is not here)",
              file=sys.stderr)
        return 1
    acn_sessions(real, args.year, ZoneInfo(args.tz), args.max_power).to_csv(sys.stdout, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
