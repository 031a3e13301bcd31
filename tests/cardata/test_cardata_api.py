"""The REST client and its persisted quota ledger, against the simulator's HTTP server."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from optimizer.cardata.api import ApiError, CardataApi
from optimizer.cardata.auth import TokenManager
from optimizer.cardata.messages import parse_telematic_data
from optimizer.cardata.quota import QuotaExhausted, QuotaLedger
from optimizer.cardata.tokens import TokenStore
from optimizer.events import ChargingStatus

from .conftest import VIN, FakeClock, login_tokens, write_config


def make_api(sim, state_dir: Path, http: httpx.AsyncClient, clock, *,
             reserve: int = 0, scope: str | None = None) -> CardataApi:
    login_tokens(sim, state_dir, clock(), **({"scope": scope} if scope else {}))
    manager = TokenManager(sim.settings(), TokenStore(state_dir), http, clock=clock)
    return CardataApi(sim.settings(), manager, QuotaLedger(state_dir, reserve=reserve), http,
                      clock=clock)


def test_ledger_stops_at_its_limit_and_persists_across_restarts(tmp_path: Path) -> None:
    now = datetime(2026, 3, 5, 21, 30, tzinfo=UTC)
    ledger = QuotaLedger(tmp_path, limit=50, reserve=5)
    for _ in range(45):
        ledger.spend(now)
    with pytest.raises(QuotaExhausted, match="last 5 are kept in reserve") as refused:
        ledger.spend(now)
    assert "resets at 00:00 UTC (in 2 h 30 min)" in str(refused.value)
    for _ in range(5):
        ledger.spend(now, essential=True)  # what the reserve is for
    # a restart (new process) reads the same file
    restarted = QuotaLedger(tmp_path, limit=50, reserve=5)
    assert restarted.status(now).used == 50
    with pytest.raises(QuotaExhausted, match="used up: 50 of 50"):
        restarted.spend(now, essential=True)
    assert stat.S_IMODE(os.stat(restarted.path).st_mode) == 0o600
    # BMW resets at 00:00 UTC, not 24 h after the first call
    assert restarted.spend(datetime(2026, 3, 6, 0, 0, tzinfo=UTC)).used == 1


async def test_api_calls_stop_at_the_ledger_limit_without_asking_bmw(make_sim, tmp_path: Path,
                                                                    fake_clock: FakeClock
                                                                    ) -> None:
    sim = make_sim(clock=fake_clock)
    async with httpx.AsyncClient() as http:
        api = make_api(sim, tmp_path, http, fake_clock)
        for _ in range(50):
            assert [m["vin"] for m in await api.mappings()] == [VIN]
        with pytest.raises(QuotaExhausted):
            await api.mappings()
    assert sim.cloud.quota_used == 50  # the 51st call never reached the server


async def test_cu429_exhausts_the_ledger_with_a_clear_message(make_sim, tmp_path: Path,
                                                              fake_clock: FakeClock) -> None:
    # another app on the same account already spent most of the day's calls
    sim = make_sim(clock=fake_clock, quota_per_day=3)
    async with httpx.AsyncClient() as http:
        api = make_api(sim, tmp_path, http, fake_clock)
        for _ in range(3):
            await api.basic_data(VIN)
        with pytest.raises(QuotaExhausted, match=r"CU-429.*00:00 UTC"):
            await api.basic_data(VIN)
    assert QuotaLedger(tmp_path).status(fake_clock()).remaining == 0


async def test_cu103_says_to_subscribe_cardata_api(make_sim, tmp_path: Path,
                                                   fake_clock: FakeClock) -> None:
    sim = make_sim(clock=fake_clock)
    async with httpx.AsyncClient() as http:
        api = make_api(sim, tmp_path, http, fake_clock,
                       scope="authenticate_user openid cardata:streaming:read")
        with pytest.raises(ApiError, match=r"CU-103.*cardata:api:read.*login") as failed:
            await api.mappings()
    assert failed.value.code == "CU-103"


async def test_expired_access_token_is_refreshed_once(make_sim, tmp_path: Path,
                                                      fake_clock: FakeClock, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    server_clock = FakeClock(fake_clock.current)
    sim = make_sim(clock=server_clock)
    async with httpx.AsyncClient() as http:
        api = make_api(sim, tmp_path, http, fake_clock)
        before = api.tokens.current()
        server_clock.advance(3700)  # the server thinks the token is dead; we don't yet
        assert await api.basic_data(VIN)
        assert api.tokens.current().access_token != before.access_token
    assert QuotaLedger(tmp_path).status(fake_clock()).used == 2  # the retry costs a call too
    secrets = [*sim.cloud.access, *sim.cloud.refresh, *sim.cloud.id_tokens]
    assert "basicData" in caplog.text and not [s for s in secrets if s in caplog.text]


async def test_containers_telematic_data_and_history(make_sim, tmp_path: Path,
                                                     fake_clock: FakeClock) -> None:
    sim = make_sim(clock=fake_clock)
    car = sim.vehicles[VIN]
    start = fake_clock()
    for day in range(12):  # twelve short charges on twelve days
        at = start - timedelta(days=60) + timedelta(days=5 * day)
        car.soc_pct = 40.0  # driven down again since the last charge
        car.plug_in(at)
        car.start_charging(at)
        car.advance(at + timedelta(minutes=20))
        car.stop_charging(at + timedelta(minutes=20))
    async with httpx.AsyncClient() as http:
        api = make_api(sim, tmp_path, http, fake_clock)
        created = [await api.create_container() for _ in range(10)]
        with pytest.raises(ApiError, match="CU-124"):
            await api.create_container()
        await api.delete_container(created[0]["containerId"])
        listed = {c["containerId"]: c["state"] for c in await api.containers()}
        assert listed[created[0]["containerId"]] == "DELETED"
        data = await api.telematic_data(VIN, created[1]["containerId"])
        header = data["vehicle.drivetrain.batteryManagement.header"]
        assert isinstance(header["value"], str)
        assert float(header["value"]) == pytest.approx(car.soc_pct, abs=0.1)
        assert data["vehicle.drivetrain.electricEngine.charging.level"] == {
            "timestamp": None, "unit": None, "value": None}  # never sent by this car
        events = {e.field: e for e in parse_telematic_data(VIN, data, fake_clock())}
        assert events["soc_pct"].value == pytest.approx(car.soc_pct, abs=0.1)
        assert events["charging_status"].value is ChargingStatus.FINISHED
        assert events["plugged"].value is True and events["phases"].value == 1
        assert events["charging_power_kw"].value == 0.0
        history = await api.charging_history(VIN, start - timedelta(days=61), start)
    assert len(history) == 12  # two 45-day windows, one of them two pages long
    assert all(s["energyConsumedFromPowerGridKwh"] > 3 for s in history)


def test_cli_vehicles_json(make_sim, tmp_path: Path) -> None:
    sim = make_sim()
    config = write_config(tmp_path, sim)
    login_tokens(sim, tmp_path / "state", datetime.now(UTC))
    result = subprocess.run([sys.executable, "-m", "optimizer", "vehicles", "--config",
                             str(config), "--json"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    (vehicle,) = json.loads(result.stdout)
    assert vehicle["vin"] == VIN and vehicle["mappingType"] == "PRIMARY"
    assert vehicle["basicData"]["brand"] == "BMW"
    assert vehicle["basicData"]["hvsMaxEnergyAbsolute"] == pytest.approx(64.7)
    ledger = json.loads((tmp_path / "state" / "cardata_quota.json").read_text())
    assert ledger["used"] == 2  # mappings + one basicData


def test_cli_vehicles_without_login_is_a_user_error(make_sim, tmp_path: Path) -> None:
    sim = make_sim()
    config = write_config(tmp_path, sim)
    result = subprocess.run([sys.executable, "-m", "optimizer", "vehicles", "--config",
                             str(config), "--json"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "ev-optimizer login" in result.stderr and "Traceback" not in result.stderr
