"""Bad input does not stop the service: a malformed stream message, a station sending garbage,
a charger that cannot be reached. Each is counted and logged, and the service goes on."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from websockets.asyncio.client import connect

from optimizer.service.clock import WallClock
from optimizer.sim.broker import free_port
from optimizer.sim.scenario import STATION_ID, spot_tariff
from optimizer.sim.station import basic_auth
from optimizer.sim.world import ChargingWorld
from tests.service.conftest import in_process

UNREACHABLE = f"""
[[vehicles]]
name = "i4"
vin = "WBA00000000000J41"
capacity_kwh = 80
charger = "shed"

[[chargers]]
name = "shed"
kind = "modbus"
[chargers.modbus]
host = "127.0.0.1"
port = {free_port()}
model = "keba_p30"
timeout_s = 0.2
retries = 0
"""


async def test_garbage_in_and_an_unreachable_charger(make_household: Any, tmp_path: Any,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    now = datetime.now(UTC)
    household = make_household(tariff=spot_tariff(tmp_path, now + timedelta(hours=2)),
                               extra="charger_poll_s = 0.2\n" + UNREACHABLE)
    async with in_process(household, WallClock()) as started:
        service = started.service
        station, receiver = await household.station(WallClock())
        await station.send_status("Available")
        await household.stream_subscribed()
        car = household.sim.vehicles[household.config.vehicles[1].vin]

        # a malformed stream message, and one that is JSON but not a CarData message
        await asyncio.to_thread(household.sim.publish, car, [b"{not json", b'{"vin": 5}'])

        # a station that speaks garbage (with valid credentials, so it gets a session)
        async with connect(f"{household.ocpp_url}/{STATION_ID}",
                           subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                           additional_headers=basic_auth(STATION_ID, household.password)
                           ) as bad:
            await bad.send("garbage, not OCPP")
            await bad.send('[2, "1", "NoSuchAction", {}]')
            answer = await asyncio.wait_for(bad.recv(), 5)
            assert '"NotImplemented"' in str(answer) or "NotSupported" in str(answer)

        async def counted() -> bool:
            health = service.health()
            return (health["stream"]["invalid_messages"] >= 2
                    and health["counters"].get("station_bad_messages", 0) >= 1
                    and health["counters"].get("charger_errors", 0) >= 1
                    and health["chargers"]["shed"]["online"] is False)

        for _ in range(200):
            if await counted():
                break
            await asyncio.sleep(0.05)
        assert await counted(), service.health()
        logged = caplog.text
        assert "skipped message" in logged and "unreachable" in logged

        # and the service still carries a car from plug-in to a plan on the real station
        station, receiver = await household.station(WallClock(), previous=station)
        await station.send_status("Available")
        world = ChargingWorld(household.sim, car, station, WallClock())
        await world.arrive_and_plug_in()
        await asyncio.wait_for(station.profile_event.wait(), 5)
        view = next(v for v in service.vehicles() if v["name"] == "iX1")
        assert view["plugged"] and view["plan"] is not None
        receiver.cancel()
