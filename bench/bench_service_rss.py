"""Memory of `ev-optimizer run` with one vehicle after an accelerated day of CarData stream.

Starts the real service as a subprocess (the simulator's mosquitto, an OCPP station connected),
then pushes a whole day of one car's stream through the broker as fast as it goes: arrival,
plug-in, a full AC charge on the "level" profile with power updates and stale re-sends, GPS
fixes, unplug, and re-sends of every held value in between, `--messages` in all (33,000 is a
busy car's day, the figure of the estimator benchmark), with the car's timestamps spread over
24 hours. Reports the service's RSS (VmRSS) and peak (VmHWM) once it has taken every message.

    .venv/bin/python bench/bench_service_rss.py --messages 33000
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from optimizer.config import load_config
from optimizer.service.clock import WallClock
from optimizer.sim.broker import free_port
from optimizer.sim.cloud import SimConfig
from optimizer.sim.scenario import (
    STATION_ID,
    VIN,
    day_of_stream,
    sign_in,
    spot_tariff,
    write_config,
)
from optimizer.sim.simulator import Simulator
from optimizer.sim.station import connect_station

CLI = Path(sys.executable).parent / "ev-optimizer"
CHUNK = 500


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


async def measure(workdir: Path, total: int) -> tuple[int, int, float, int]:
    with Simulator(workdir / "sim", SimConfig(auto_approve=True,
                                              reconnect_refusal_probability=0.0)) as sim:
        car = sim.add_vehicle(VIN, soc_pct=20.0, target_soc_pct=100.0, profile="level")
        now = datetime.now(UTC)
        port = free_port()
        path, password, ocpp_port = write_config(
            workdir, sim, tariff=spot_tariff(workdir, now + timedelta(hours=2)), http_port=port)
        config = load_config(path)
        sign_in(sim, config.state_dir, now)
        log = (workdir / "service.log").open("w")
        process = subprocess.Popen([str(CLI), "run", "--config", str(path)], stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            token_file = config.state_dir / "api_token"
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                async def health() -> dict[str, object] | None:
                    if not token_file.exists():
                        return None
                    headers = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
                    try:
                        response = await client.get("/api/health", headers=headers)
                    except httpx.HTTPError:
                        return None
                    return response.json() if response.status_code == 200 else None

                while await health() is None:
                    await asyncio.sleep(0.1)
                station, receiver = await connect_station(
                    f"ws://127.0.0.1:{ocpp_port}/ocpp", STATION_ID, password, WallClock())
                await station.send_status("Available")
                await sim.until(lambda c: any(s.subscribed for s in c.sessions.values()), 30)
                messages = day_of_stream(car, now - timedelta(days=1), total)
                started = time.perf_counter()
                taken = 0
                for chunk in range(0, len(messages), CHUNK):
                    # paced by what the service has taken: mosquitto drops QoS 0 messages for
                    # a subscriber that falls behind, and every message must count
                    await asyncio.to_thread(sim.publish, car, messages[chunk:chunk + CHUNK],
                                            60.0)
                    target = min(len(messages), chunk + CHUNK)
                    deadline = time.perf_counter() + 30.0
                    while taken < target and time.perf_counter() < deadline:
                        state = await health()
                        stream = state.get("stream") if state else None
                        taken = int(stream["messages"]) if isinstance(stream, dict) else 0
                        if taken < target:
                            await asyncio.sleep(0.05)
                elapsed = time.perf_counter() - started
                rss, peak = status_kb(process.pid, "VmRSS"), status_kb(process.pid, "VmHWM")
                receiver.cancel()
        finally:
            process.terminate()
            process.wait(15)
        return rss, peak, elapsed, taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=33_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rss, peak, elapsed, count = asyncio.run(measure(Path(tmp), args.messages))
    print(f"ev-optimizer run, one vehicle, {count} of {args.messages} stream messages (a day) "
          f"taken in "
          f"{elapsed:.1f} s: RSS {rss / 1024:.0f} MB, peak {peak / 1024:.0f} MB")


if __name__ == "__main__":
    main()
