"""Record the shipped sample stream with the simulator and the real CLI.

    .venv/bin/python scripts/record_sample_stream.py [--out optimizer/sim/data/sample_stream.jsonl]

Starts the CarData simulator (real mosquitto over TLS), logs in with `ev-optimizer login`,
runs `ev-optimizer stream --record OUT --count N` and plays one evening of a BMW iX1 on the
"legacy" profile (SoC only at charge start and stop): park, plug in, an 11 kW AC charge from
35 % to 80 %, unplug. The car's clock is fixed (15 January 2026, 17:30 UTC, one step a
minute), so the sample is the same on every run except for the simulator's own tokens, which
never reach the recording.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from optimizer.sim.cloud import SimConfig
from optimizer.sim.simulator import Simulator

VIN = "WBA00000000000U11"
CAR_START = datetime(2026, 1, 15, 17, 30, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[1]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "optimizer", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path,
                        default=REPO / "optimizer" / "sim" / "data" / "sample_stream.jsonl")
    args = parser.parse_args()
    config = SimConfig(auto_approve=True, poll_interval_s=1.0, enforce_poll_interval=False,
                       reconnect_refusal_probability=0.0)
    with tempfile.TemporaryDirectory() as folder, Simulator(config=config) as sim:
        car = sim.add_vehicle(VIN, soc_pct=35.0, target_soc_pct=80.0, profile="legacy")
        at = CAR_START
        messages = car.park(at, 48.137, 11.575)
        at += timedelta(minutes=1)
        messages += car.plug_in(at)
        at += timedelta(seconds=20)
        messages += car.start_charging(at)
        while car.charging:
            at += timedelta(minutes=1)
            messages += car.advance(at)
        at += timedelta(minutes=5)
        messages += car.unplug(at)

        config_path = Path(folder) / "config.toml"
        config_path.write_text("\n".join([
            'state_dir = "state"', 'tariff = "none.toml"',
            "[[vehicles]]", 'name = "car"', f'vin = "{VIN}"', "capacity_kwh = 64.7",
            'charger = "box"', "[[chargers]]", 'name = "box"', 'kind = "simulated"',
            sim.config_toml()]), encoding="utf-8")
        subprocess.run(cli("login", "--config", str(config_path)), check=True,
                       stdout=subprocess.DEVNULL, timeout=120)
        recorder = subprocess.Popen(
            cli("stream", "--config", str(config_path), "--record", str(args.out),
                "--count", str(len(messages))), stdout=subprocess.DEVNULL)
        try:
            if not sim.wait_for(lambda cloud: any(s.subscribed for s in cloud.sessions.values()),
                                timeout=60):
                raise SystemExit("the recorder did not subscribe within 60 s")
            sim.publish(car, messages, timeout=60)
            recorder.wait(timeout=120)
        finally:
            recorder.kill()
    if recorder.returncode != 0:
        raise SystemExit(f"stream --record exited with {recorder.returncode}")
    print(f"{args.out}: {len(messages)} messages, {args.out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
