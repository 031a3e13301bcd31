"""`ev-optimizer estimate`: replay a recorded CarData stream through the SoC estimator.

    ev-optimizer estimate --stream FILE.jsonl [--meter METER.csv] [--capacity KWH]
                          [--every 60] [--store STATE.sqlite] --json

FILE.jsonl holds one raw CarData stream message per line (the wire envelope), in arrival order;
METER.csv is `time,energy_kwh` from a wallbox's cumulative meter. Output: one JSON object per
line and VIN, `{"time", "vin", "soc_pct", "soc_low_pct", "soc_high_pct"}`, every `--every`
seconds from the first message's time to the last. With `--store`, what was learned per
vehicle (efficiency, taper) is loaded before and saved after, so it carries over between runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from optimizer.cardata.recording import read_recording
from optimizer.errors import InputError
from optimizer.soc.estimator import SocEstimator
from optimizer.soc.learning import LearnedVehicle
from optimizer.soc.replay import (
    Fleet,
    ReplayStats,
    check_every,
    estimator_factory,
    format_time,
    learned_key,
    read_meter_csv,
    replay_stream,
)
from optimizer.store import SqliteStore


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "estimate", help="estimate SoC between sparse CarData reports from a recorded stream")
    parser.add_argument("--stream", type=Path, required=True, metavar="FILE.jsonl",
                        help="one raw CarData stream message per line, in arrival order")
    parser.add_argument("--meter", type=Path, metavar="METER.csv",
                        help="'time,energy_kwh' of a wallbox's cumulative meter")
    parser.add_argument("--capacity", type=float, metavar="KWH",
                        help="usable capacity until the car reports maxEnergy")
    parser.add_argument("--every", type=float, default=60.0, metavar="SECONDS",
                        help="output interval, 1 to 86400 (default 60)")
    parser.add_argument("--store", type=Path, metavar="STATE.sqlite",
                        help="load and save what was learned per vehicle")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.capacity is not None and not 0.0 < args.capacity <= 250.0:
        raise InputError(f"--capacity must be in (0, 250] kWh, got {args.capacity:g}")
    check_every(args.every)
    meter = read_meter_csv(args.meter) if args.meter is not None else []
    store = SqliteStore(args.store) if args.store is not None else None

    def learned(vin: str) -> LearnedVehicle | None:
        return LearnedVehicle.from_json(store.load(learned_key(vin))) if store else None

    fleet = Fleet(estimator_factory(args.capacity, learned))
    stats = ReplayStats()
    source = f"stream file {args.stream}"
    out = sys.stdout
    for estimate in replay_stream(read_recording(args.stream), fleet, args.every, meter, stats,
                                  source=source):
        row = {"time": format_time(estimate.at), "vin": estimate.vin,
               "soc_pct": round(estimate.soc_pct, 2),
               "soc_low_pct": round(estimate.soc_low_pct, 2),
               "soc_high_pct": round(estimate.soc_high_pct, 2)}
        if args.json:
            out.write(json.dumps(row, allow_nan=False) + "\n")
        else:
            out.write(f"{row['time']}  {row['vin']}  {row['soc_pct']:6.2f} %  "
                      f"[{row['soc_low_pct']:6.2f}, {row['soc_high_pct']:6.2f}]\n")
    if stats.messages == 0:
        raise InputError(f"{source}: no CarData message in it"
                         + (f" ({len(stats.bad_lines)} unreadable lines; {stats.first_problem})"
                            if stats.bad_lines else ""))
    if stats.bad_lines:
        shown = ", ".join(map(str, stats.bad_lines[:10]))
        print(f"warning: {args.stream}: skipped {len(stats.bad_lines)} line(s) that are not "
              f"CarData messages (line {shown}; {stats.first_problem})", file=sys.stderr)
    if store is not None:
        for vin, estimator in fleet.estimators.items():
            if isinstance(estimator, SocEstimator):
                store.save(learned_key(vin), estimator.learned.to_json())
        store.close()
    return 0
