"""Throughput of `ev-optimizer estimate` (issue 4: at least 50,000 messages/s on one core).

Two figures, measured separately:
1. the estimator core alone: pre-parsed `VehicleEvent`s into `SocEstimator.ingest`;
2. the whole CLI path: the `estimate` command in a subprocess on a JSONL file (parse each wire
   message, estimate, write JSON lines every 60 s), wall time including interpreter start.

The stream is the evaluation harness's fleet (6 cars, 12 charges each) padded with the other
descriptors a car streams all day (GPS, doors, range...), to the ~33,000 messages/day one bridge
logged for one car (reference/cardata.md §2.5); those pass through the parser and are ignored.

    .venv/bin/python bench/bench_estimate.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.soc_traces import build_trace
from optimizer.cardata.messages import parse_message
from optimizer.soc.estimator import SocEstimator

FILLER = (
    ("vehicle.cabin.infotainment.navigation.currentLocation.latitude", "degrees", 48.1),
    ("vehicle.cabin.infotainment.navigation.currentLocation.longitude", "degrees", 11.5),
    ("vehicle.drivetrain.electricEngine.kombiRemainingElectricRange", "km", 250.0),
    ("vehicle.vehicle.travelledDistance", "km", 12000.0),
    ("vehicle.cabin.door.row1.driver.isOpen", None, False),
)
MESSAGES_PER_CAR_DAY = 33_000
USED_FIELDS = {"soc_pct", "capacity_kwh", "target_soc_pct", "charging_power_kw",
               "charging_status", "plugged"}
DAYS = 3.0
"""Three days of six cars: about 600,000 messages, a few charges each; one run ≈ 10 s."""


def dense_stream(days: float = DAYS) -> list[str]:
    """The first `days` of the harness fleet's stream, padded to 33,000 messages/car/day."""
    trace = build_trace(sessions_per_car=12, seed=1)
    rng = np.random.default_rng(0)
    start = trace.messages[0][0]
    end = start + days * 86400.0
    items = [(t, json.dumps(env, separators=(",", ":"))) for t, env in trace.messages
             if t < end]
    for car in trace.cars:
        own = sum(1 for t, e in trace.messages if e["vin"] == car.vin and t < end)
        n = int(days * MESSAGES_PER_CAR_DAY) - own
        for t in np.sort(rng.uniform(start, end, n)):
            name, unit, value = FILLER[int(rng.integers(len(FILLER)))]
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
            entry = {"timestamp": stamp + "Z", "value": value} | ({"unit": unit} if unit else {})
            items.append((float(t), json.dumps({
                "vin": car.vin, "entityId": "bench", "topic": car.vin,
                "timestamp": stamp + ".000Z", "data": {name: entry}}, separators=(",", ":"))))
    items.sort(key=lambda x: x[0])
    return [line for _, line in items]


def main() -> None:
    lines = dense_stream()
    vins = {json.loads(line)["vin"] for line in lines[:5000]}
    print(f"stream: {len(lines):,} messages, {len(vins)} VINs, {DAYS:g} days")

    parsed = [parse_message(line) for line in lines]
    events = [e for batch in parsed for e in batch]
    # the charging events of the whole trace (all 12 charges per car, no padding)
    trace = build_trace(sessions_per_car=12, seed=1)
    used = [e for _, env in trace.messages for e in parse_message(json.dumps(env))
            if e.field in USED_FIELDS]
    for name, sample, unit_count in (("padded stream, all parsed events", events, len(lines)),
                                     ("charging events only (whole trace)", used, len(used))):
        best = 0.0
        for _ in range(3):
            estimators: dict[str, SocEstimator] = {}
            t0 = time.perf_counter()
            for e in sample:
                est = estimators.get(e.vin)
                if est is None:
                    est = estimators[e.vin] = SocEstimator(e.vin)
                est.ingest(e)
            best = max(best, unit_count / (time.perf_counter() - t0))
        what = "messages/s" if sample is events else f"events/s ({len(used):,} events)"
        print(f"1. estimator core, {name}: {best:,.0f} {what}")

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stream.jsonl"
        path.write_text("\n".join(lines) + "\n")
        walls = []
        for _ in range(3):
            t0 = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "optimizer", "estimate", "--stream", str(path),
                 "--every", "60", "--json"], stdout=subprocess.PIPE, check=True)
            walls.append(time.perf_counter() - t0)
        wall = min(walls)
        rows = done.stdout.count(b"\n")
    print(f"2. whole CLI path (`estimate --every 60 --json`, subprocess): {len(lines) / wall:,.0f} "
          f"messages/s ({wall:.2f} s wall for {len(lines):,} messages, {rows:,} output lines)")


if __name__ == "__main__":
    main()
