"""CarData parse speed: normalised vehicle events per second from raw stream payloads.

The payloads are what the simulator's car sends over a day: plug-in, a full AC charge on the
"level" profile (charging.level every percent, power updates, full stale re-sends), GPS fixes
split over two messages and stop/unplug; so the mix of one-descriptor deltas and big re-sends
is the real one. Single-threaded, on one core. Target: >= 20,000 events/s.

Run: .venv/bin/python bench/bench_parse.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

from optimizer.cardata.messages import parse_message
from optimizer.sim.vehicle import SimVehicle, load_curve


def payloads() -> list[bytes]:
    car = SimVehicle("WBA00000000000001", "aa111192-d570-4d3d-8835-656ee00edcd7",
                     load_curve("iX1", "xDrive30"), soc_pct=20.0, target_soc_pct=100.0,
                     profile="level")
    at = datetime(2026, 1, 1, 18, 0, tzinfo=UTC)
    out = car.park(at, 48.137, 11.575) + car.plug_in(at) + car.start_charging(at)
    while car.charging:
        at += timedelta(seconds=30)
        out += car.advance(at)
        if at.minute % 10 == 0 and at.second == 0:
            out.append(car.resend_all(at))  # BMW re-sends everything on some events
    out += car.unplug(at) + car.park(at + timedelta(hours=12), 48.2, 11.6)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    data = payloads()
    received = datetime(2026, 1, 2, tzinfo=UTC)
    events_per_pass = sum(len(parse_message(p, received)) for p in data)
    rates = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        for _ in range(20):
            for payload in data:
                parse_message(payload, received)
        elapsed = time.perf_counter() - started
        rates.append(20 * events_per_pass / elapsed)
    print(f"payloads per pass: {len(data)}  events per pass: {events_per_pass}  "
          f"({events_per_pass / len(data):.1f} events/message, "
          f"{sum(map(len, data)) / len(data):.0f} bytes/message)")
    print(f"normalised events/s: median {statistics.median(rates):,.0f}  "
          f"min {min(rates):,.0f}  max {max(rates):,.0f}  (target >= 20,000)")
    print(f"messages/s: median {statistics.median(rates) / events_per_pass * len(data):,.0f}")


if __name__ == "__main__":
    main()
