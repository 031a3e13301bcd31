"""Plug-in message -> charger command: the time from the simulator publishing a car's plug-in
on CarData's MQTT stream to the OCPP station receiving the plan as a SetChargingProfile, through
the whole running service (mosquitto with TLS, the stream client, the estimator, the session
machine, the planner, SQLite commits, the central system). p50 and p95 over N plug-ins.

    .venv/bin/python bench/bench_service_latency.py --count 50
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from optimizer.config import load_config
from optimizer.service.app import ServiceOptions, Started, run_service
from optimizer.service.clock import WallClock
from optimizer.sim.cloud import SimConfig
from optimizer.sim.scenario import STATION_ID, VIN, sign_in, spot_tariff, write_config
from optimizer.sim.simulator import Simulator
from optimizer.sim.station import connect_station


async def measure(workdir: Path, count: int) -> list[float]:
    with Simulator(workdir / "sim", SimConfig(auto_approve=True,
                                              reconnect_refusal_probability=0.0)) as sim:
        car = sim.add_vehicle(VIN, soc_pct=30.0, target_soc_pct=100.0, profile="level")
        now = datetime.now(UTC)
        tariff = spot_tariff(workdir, now + timedelta(hours=2))
        path, password, port = write_config(workdir, sim, tariff=tariff)
        config = load_config(path)
        sign_in(sim, config.state_dir, now)
        clock = WallClock()
        started: asyncio.Future[Started] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        service = asyncio.ensure_future(run_service(config, ServiceOptions(
            clock=clock, stop=stop, charger_base=workdir, on_started=started.set_result)))
        info = await asyncio.wait_for(started, 30)
        station, receiver = await connect_station(f"ws://127.0.0.1:{port}/ocpp", STATION_ID,
                                                  password, clock)
        await station.send_status("Available")
        await sim.until(lambda cloud: any(s.subscribed for s in cloud.sessions.values()), 30)
        await asyncio.to_thread(sim.publish, car, car.arrive(clock.now()))
        latencies: list[float] = []
        for _ in range(count):
            station.profile_event.clear()
            message = car.plug_in(clock.now())
            sent = time.perf_counter()
            await asyncio.to_thread(sim.publish, car, message)
            await asyncio.wait_for(station.profile_event.wait(), 10)
            latencies.append(time.perf_counter() - sent)
            await asyncio.to_thread(sim.publish, car, car.unplug(clock.now()))
            for _ in range(500):  # until the session is closed
                if not info.service.vehicles()[0]["plugged"]:
                    break
                await asyncio.sleep(0.002)
        receiver.cancel()
        stop.set()
        await asyncio.wait_for(service, 15)
        return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        latencies = asyncio.run(measure(Path(tmp), args.count))
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(f"plug-in message -> SetChargingProfile over {len(latencies)} plug-ins: "
          f"p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
          f"max {ordered[-1] * 1000:.0f} ms", file=sys.stdout)


if __name__ == "__main__":
    main()
