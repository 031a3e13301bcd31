"""Stream message -> estimate (-> re-plan when needed): messages per second through the
service's own path, without the broker: parse the payload, feed the estimator, turn what
matters (plug, charging status, SoC reports) into events, step the session machine, plan when
it asks, commit to SQLite (WAL, on disk). The payloads are one car's busy day (see
bench_service_rss.py): a full AC charge with SoC reports every percent (each one a re-plan),
power updates, stale re-sends and GPS fixes.

    .venv/bin/python bench/bench_service_throughput.py --messages 33000 --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from optimizer.cardata.messages import parse_message
from optimizer.config import parse_config
from optimizer.service.core import Service
from optimizer.service.database import ServiceDatabase
from optimizer.sim.scenario import VIN, day_of_stream, spot_tariff
from optimizer.sim.vehicle import SimVehicle, load_curve
from optimizer.tariffs import load_tariff


class MessageClock:
    """`now` is the time of the message being handled (a replay of the day)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def wall_seconds_until(self, at: datetime) -> float:
        return 0.0


async def run_once(workdir: Path, total: int) -> tuple[float, int, int]:
    start = datetime(2026, 3, 5, 17, 0, tzinfo=UTC)
    tariff = spot_tariff(workdir, start + timedelta(hours=8))
    config = parse_config({
        "tariff": str(tariff), "state_dir": str(workdir / "state"),
        "vehicles": [{"name": "iX1", "vin": VIN, "capacity_kwh": 64.7, "charger": "box",
                      "departures": {d: "07:30" for d in ("mon", "tue", "wed", "thu", "fri",
                                                           "sat", "sun")}}],
        "chargers": [{"name": "box", "kind": "simulated"}]})
    car = SimVehicle(VIN, "gcid", load_curve("iX1", "xDrive30"), soc_pct=20.0,
                     target_soc_pct=100.0, profile="level")
    payloads = day_of_stream(car, start, total)
    clock = MessageClock(start)
    db = ServiceDatabase(config.state_dir)
    service = Service(config, db, clock, load_tariff(tariff))
    plans = 0
    began = time.perf_counter()
    for payload in payloads:
        events = parse_message(payload, clock.at)
        if events:
            clock.at = max(clock.at, max(e.measured_at for e in events))
        for event in events:
            service.vehicle_event(event)
        while not service.queue.empty():
            name, item, _ = service.queue.get_nowait()
            await service.handle(name, item)
        plans = service.fleet["iX1"].state.plan_version
    elapsed = time.perf_counter() - began
    db.close()
    return len(payloads) / elapsed, len(payloads), plans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=33_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rates = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            rate, count, plans = asyncio.run(run_once(Path(tmp), args.messages))
            rates.append(rate)
    print(f"stream message -> estimate -> re-plan when needed: {count} messages, plan "
          f"versions {plans}; median {statistics.median(rates):,.0f} messages/s "
          f"(min {min(rates):,.0f}, max {max(rates):,.0f}) over {args.repeat} runs")


if __name__ == "__main__":
    main()
