"""Fixtures for the service tests: a household on the simulators (real mosquitto with TLS, the
CarData HTTP side, an `ocpp`-library station) and the service, in-process or as a subprocess."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from optimizer.config import Config, load_config
from optimizer.ports import Clock, PriceSource
from optimizer.service.app import ServiceOptions, Started, run_service
from optimizer.sim.broker import MOSQUITTO, free_port
from optimizer.sim.cloud import SimConfig
from optimizer.sim.scenario import STATION_ID, VIN, sign_in, spot_tariff, write_config
from optimizer.sim.simulator import Simulator
from optimizer.sim.station import SimStation, connect_station
from optimizer.sim.world import ChargingWorld
from tests.prices.conftest import provider  # noqa: F401  (a local price provider, for tests here)

VENV_BIN = Path(sys.executable).parent


@dataclass
class Household:
    workdir: Path
    sim: Simulator
    config_path: Path
    password: str
    ocpp_port: int

    @property
    def config(self) -> Config:
        return load_config(self.config_path)

    @property
    def ocpp_url(self) -> str:
        return f"ws://127.0.0.1:{self.ocpp_port}/ocpp"

    async def station(self, clock: Clock, **options: Any) -> tuple[SimStation, asyncio.Task[None]]:
        return await connect_station(self.ocpp_url, STATION_ID, self.password, clock, **options)

    async def stream_subscribed(self) -> None:
        await self.sim.until(lambda cloud: any(s.subscribed for s in cloud.sessions.values()),
                             20)


@pytest.fixture
def make_household(tmp_path: Path) -> Iterator[Any]:
    if not os.path.exists(MOSQUITTO) or shutil.which("openssl") is None:
        pytest.skip("the CarData simulator needs mosquitto and openssl")
    sims: list[Simulator] = []

    def make(tariff: Path | None = None, soc_pct: float = 30.0, **config: Any) -> Household:
        sim = Simulator(tmp_path / "sim", SimConfig(auto_approve=True,
                                                   reconnect_refusal_probability=0.0))
        sim.start()
        sims.append(sim)
        sim.add_vehicle(VIN, soc_pct=soc_pct, target_soc_pct=100.0, profile="level")
        if tariff is not None:
            config["tariff"] = tariff
        path, password, port = write_config(tmp_path, sim, **config)
        sign_in(sim, tmp_path / "state", datetime.now(UTC))
        return Household(tmp_path, sim, path, password, port)

    yield make
    for sim in sims:
        sim.stop()


def departure_in(now: datetime, hours: float) -> str:
    """The daily departure `hours` after `now`, as `write_config` takes it (Berlin time): a
    test on the wall clock then plans alike at any time of day (with the default 07:30, a run
    at 03:00 had four hours to charge and its plans fell short)."""
    return (now + timedelta(hours=hours)).astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M")


@asynccontextmanager
async def in_process(household: Household, clock: Any, prices: PriceSource | None = None,
                     **options: Any) -> AsyncIterator[Started]:
    """The service in this event loop, stopped (as by SIGTERM) when the block ends."""
    started: asyncio.Future[Started] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    task = asyncio.ensure_future(run_service(household.config, ServiceOptions(
        clock=clock, prices=prices, stop=stop, charger_base=household.workdir,
        on_started=started.set_result, **options)))
    waiting: list[asyncio.Future[Any]] = [started, task]
    await asyncio.wait(waiting, timeout=20, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    try:
        yield await started
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@dataclass
class Process:
    popen: subprocess.Popen[str]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    async def stop(self) -> None:
        """SIGTERM, as systemd stops the service: it must exit 0 within 10 s."""
        stopping = time.monotonic()
        self.popen.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.to_thread(self.popen.wait, 10)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"no exit 10 s after SIGTERM: {self.output()}") from None
        assert code == 0, self.output()
        assert time.monotonic() - stopping < 10


def start_process(household: Household, name: str = "run") -> Process:
    log = household.workdir / f"{name}.log"
    handle = log.open("w", encoding="utf-8")
    popen = subprocess.Popen(
        [str(VENV_BIN / "ev-optimizer"), "run", "--config", str(household.config_path)],
        stdout=handle, stderr=subprocess.STDOUT, text=True, cwd=household.workdir)
    return Process(popen, log)


async def wait_api(household: Household, process: Process | None = None,
                   timeout_s: float = 20.0) -> tuple[str, str]:
    """(base url, token) once the subprocess's API answers."""
    config = household.config
    token_file = config.state_dir / "api_token"
    base = f"http://127.0.0.1:{config.service.http_port}"
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with httpx.AsyncClient() as client:
        while asyncio.get_running_loop().time() < deadline:
            if process is not None and process.popen.poll() is not None:
                raise AssertionError(f"the service exited: {process.output()}")
            if token_file.exists():
                token = token_file.read_text().strip()
                try:
                    response = await client.get(f"{base}/api/health",
                                                headers={"Authorization": f"Bearer {token}"})
                    if response.status_code == 200:
                        return base, token
                except httpx.HTTPError:
                    pass
            await asyncio.sleep(0.1)
    raise AssertionError("the service's API did not come up: "
                         + (process.output() if process is not None else ""))


def evening(make_household: Any, tmp_path: Path, **config: Any) -> tuple[Household, datetime]:
    """A household whose 4 cheap hours start within 2 h (returned), leaving in 9 h, the API on
    a free port."""
    now = datetime.now(UTC)
    cheap_from = (now + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    departure = (now + timedelta(hours=9)).astimezone(ZoneInfo("Europe/Berlin"))
    household: Household = make_household(
        tariff=spot_tariff(tmp_path, cheap_from, cheap_hours=4), http_port=free_port(),
        departure=f"{departure:%H:%M}", **config)
    return household, cheap_from


@dataclass
class PluggedIn:
    station: SimStation
    station_task: asyncio.Task[None]
    world: ChargingWorld
    plugged_at: float
    """`time.monotonic()` when the plug-in message went out."""


async def plug_in(household: Household, clock: Clock) -> PluggedIn:
    """The station connects (Available), the stream is up, the car arrives and plugs in."""
    station, task = await household.station(clock)
    await station.send_status("Available")
    await household.stream_subscribed()
    car = household.sim.vehicles[household.config.vehicles[0].vin]
    world = ChargingWorld(household.sim, car, station, clock)
    await world.publish(car.arrive(clock.now()))
    plugged_at = time.monotonic()
    await world.publish(car.plug_in(clock.now()))
    return PluggedIn(station, task, world, plugged_at)


async def until_vehicle(base: str, token: str, predicate: Callable[[dict[str, Any]], bool],
                        timeout_s: float) -> dict[str, Any]:
    """The (one) vehicle of `GET /api/vehicles` once `predicate` holds, polled: the service
    is another process, so there is nothing in this one to wait on."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=base,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        while True:
            response = await client.get("/api/vehicles")
            assert response.status_code == 200, response.text
            [view] = response.json()
            if predicate(view):
                assert isinstance(view, dict)
                return view
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout_s} s: {view}")
            await asyncio.sleep(0.05)
