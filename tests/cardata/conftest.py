"""Fixtures for the CarData tests: the simulator (real mosquitto with TLS 1.3 and a password
file on a free loopback port, plus the loopback HTTP server), clocks and configs."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from optimizer.cardata.tokens import TokenSet, TokenStore
from optimizer.ports import Clock
from optimizer.sim.broker import MOSQUITTO
from optimizer.sim.cloud import SimConfig
from optimizer.sim.simulator import Simulator

VIN = "WBA00000000000001"
SCOPE = "authenticate_user openid cardata:api:read cardata:streaming:read"



@dataclass
class FakeClock:
    """A clock the test moves; `sleep` advances it instead of waiting."""

    current: datetime = field(default_factory=lambda: datetime(2026, 3, 5, 18, 0, tzinfo=UTC))
    slept: list[float] = field(default_factory=list)

    def now(self) -> datetime:
        return self.current

    def __call__(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)


def scaled_sleep(scale: float) -> Callable[[float], Any]:
    """Real waiting, shrunk: the stream's 10 s / 5 s rules become 10*scale s of real time, so
    the policy runs unchanged against a real broker without making the tests slow."""

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(seconds * scale)

    return sleep


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_sim() -> Iterator[Callable[..., Simulator]]:
    if not os.path.exists(MOSQUITTO) or shutil.which("openssl") is None:
        pytest.skip("the CarData simulator needs mosquitto and openssl")
    started: list[Simulator] = []

    def make(clock: Clock | None = None, **options: Any) -> Simulator:
        config = SimConfig(**{"reconnect_refusal_probability": 0.0, **options})
        sim = Simulator(config=config, **({"clock": clock} if clock else {}))
        sim.start()
        started.append(sim)
        sim.add_vehicle(VIN)
        return sim

    yield make
    for sim in started:
        sim.stop()


def login_tokens(sim: Simulator, state_dir: Path, now: datetime,
                 scope: str = SCOPE) -> TokenSet:
    """What `ev-optimizer login` would have stored, without the browser step."""
    body = sim.cloud.issue_tokens(scope)
    sim.cloud.wait_gate_applied()
    tokens = TokenSet.from_response(body, client_id=sim.config.client_id, now=now)
    TokenStore(state_dir).save(tokens)
    return tokens


def write_config(tmp_path: Path, sim: Simulator) -> Path:
    path = tmp_path / "config.toml"
    path.write_text("\n".join([
        'state_dir = "state"',
        'tariff = "tariff.toml"',
        "[[vehicles]]", 'name = "car"', f'vin = "{VIN}"', "capacity_kwh = 64.7",
        'charger = "box"',
        "[[chargers]]", 'name = "box"', 'kind = "simulated"',
        sim.config_toml(),
    ]), encoding="utf-8")
    return path
