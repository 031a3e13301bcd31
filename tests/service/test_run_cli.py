"""`ev-optimizer run --config FILE` as a subprocess, against the CarData simulator and an OCPP
1.6J station on the `ocpp` library: the contract a held-out check uses."""

from __future__ import annotations

import asyncio
import json
import stat
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from optimizer.service.clock import WallClock
from tests.service.conftest import evening, plug_in, start_process, wait_api

TZ = ZoneInfo("Europe/Berlin")
FIELDS = {"name", "vin", "plugged", "charging", "soc_pct", "soc_low_pct", "soc_high_pct",
          "target_soc_pct", "departure", "plan", "session"}


async def test_run_uploads_the_plan_answers_only_with_the_token_and_stops_on_sigterm(
        make_household: Any, tmp_path: Any) -> None:
    household, cheap_from = evening(make_household, tmp_path)
    departure = household.config.vehicles[0].next_departure(datetime.now(UTC),
                                                            household.config.tz)
    assert departure is not None
    process = start_process(household)
    clock = WallClock()
    try:
        base, token = await wait_api(household, process)
        token_file = household.config.state_dir / "api_token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        plugged = await plug_in(household, clock)
        station, receiver, plugged_at = plugged.station, plugged.station_task, plugged.plugged_at
        await asyncio.wait_for(station.profile_event.wait(), 3.0)
        latency_s = time.monotonic() - plugged_at
        assert latency_s < 3.0
        profile = station.profiles[1]
        assert profile.purpose == "TxDefaultProfile" and profile.valid_to is not None
        charging = [(profile.start + timedelta(seconds=s), limit)
                    for s, limit in profile.periods if limit > 0]
        assert charging and all(cheap_from <= at < cheap_from + timedelta(hours=4)
                                for at, _ in charging)  # the cheap hours, not now
        assert profile.valid_to <= departure
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("/api/vehicles")).status_code == 401
            wrong = {"Authorization": "Bearer nope"}
            assert (await client.get("/api/vehicles", headers=wrong)).status_code == 401
            response = await client.get("/api/vehicles",
                                        headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200
            [vehicle] = response.json()
            assert set(vehicle) >= FIELDS
            assert vehicle["plugged"] is True and vehicle["soc_pct"] == 30.0
            assert set(vehicle["plan"]) == {"feasible", "reason", "energy_kwh", "cost",
                                            "soc_at_departure_pct", "provisional", "slots"}
            assert set(vehicle["session"]) == {"id", "started_at", "energy_kwh", "cost"}
            assert (await client.get("/openapi.json")).status_code == 200
        receiver.cancel()
        await process.stop()
    finally:
        if process.popen.poll() is None:
            process.popen.kill()
    output = process.output()
    tokens = json.loads((household.config.state_dir / "cardata_tokens.json").read_text())
    secrets = [token, household.password] + [str(v) for k, v in tokens.items()
                                             if "token" in k and v]
    for secret in secrets:
        assert secret not in output
    assert "Traceback" not in output
