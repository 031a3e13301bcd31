"""Run the CarData simulator on its own: `python -m optimizer.sim [--speed 60]`.

Prints a `[cardata]` table to paste into a config.toml, approves every login at once, and plays
one car's evening: arrival, plug-in, an AC charge to the target and unplugging, with the car's
time running `--speed` times faster than the wall clock (the stream, its tokens and its rules
run in real time). Stops on Ctrl-C.
"""

from __future__ import annotations

import argparse
import threading
import time
from datetime import UTC, datetime, timedelta

from optimizer.sim.cloud import SimConfig
from optimizer.sim.simulator import Simulator

VIN = "WBA00000000000U11"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m optimizer.sim", description=__doc__)
    parser.add_argument("--speed", type=float, default=60.0, help="car time / wall time")
    parser.add_argument("--soc", type=float, default=30.0, help="SoC at arrival, %%")
    parser.add_argument("--target", type=float, default=80.0, help="target SoC, %%")
    parser.add_argument("--vin", default=VIN)
    args = parser.parse_args()
    config = SimConfig(auto_approve=True, poll_interval_s=1.0, enforce_poll_interval=False)
    with Simulator(config=config) as sim:
        car = sim.add_vehicle(args.vin, soc_pct=args.soc, target_soc_pct=args.target,
                              profile="level")
        print(sim.config_toml(), flush=True)
        print("# waiting for a stream subscriber (ev-optimizer login, then stream)", flush=True)
        sim.wait_for(lambda cloud: any(s.subscribed for s in cloud.sessions.values()),
                     timeout=24 * 3600)
        started, car_start = time.monotonic(), datetime.now(UTC)

        def car_now() -> datetime:
            return car_start + timedelta(seconds=(time.monotonic() - started) * args.speed)

        sim.publish(car, car.park(car_now(), 48.137, 11.575))
        sim.publish(car, car.plug_in(car_now()))
        sim.publish(car, car.start_charging(car_now()))
        try:
            while car.charging:
                time.sleep(1.0)  # pacing: one wall-clock second per step of the car
                sim.publish(car, car.advance(car_now()))
            sim.publish(car, car.unplug(car_now()))
            print("# charge finished; Ctrl-C to stop", flush=True)
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
