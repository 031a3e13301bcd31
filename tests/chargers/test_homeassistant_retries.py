"""Home Assistant answers we cannot provoke from a real instance (5xx), via httpx's transport.

Everything else about the Home Assistant charger is tested against a real Home Assistant in
tests/homeassistant."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from optimizer.chargers.errors import ChargerError
from optimizer.chargers.homeassistant import HomeAssistantCharger
from optimizer.chargers.limits import CurrentRange
from optimizer.chargers.settings import HomeAssistantSettings
from tests.chargers.conftest import FakeClock

RANGE = CurrentRange(phases=3, voltage_v=230.0, min_current_a=6.0, max_current_a=16.0)
SETTINGS = HomeAssistantSettings(url="http://ha.test", token_file=Path("ha.token"),
                                 switch_entity="switch.wallbox")


async def test_5xx_is_retried_with_backoff(clock: FakeClock) -> None:
    answers = [503, 502, 200]
    delays: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer t0ken"
        status = answers.pop(0)
        return httpx.Response(status, json={"entity_id": "switch.wallbox", "state": "off"})

    async def record(seconds: float) -> None:
        delays.append(seconds)

    async with HomeAssistantCharger("ha", SETTINGS, "t0ken", RANGE, clock, sleep=record,
                                    transport=httpx.MockTransport(answer)) as charger:
        assert (await charger.status()).details["switch_state"] == "off"
    assert delays == [0.5, 1.0]
    assert answers == []


async def test_a_persistent_5xx_names_the_last_answer(clock: FakeClock) -> None:
    async def record(seconds: float) -> None:
        pass

    transport = httpx.MockTransport(lambda request: httpx.Response(500))
    async with HomeAssistantCharger("ha", SETTINGS, "t0ken", RANGE, clock, sleep=record,
                                    transport=transport) as charger:
        with pytest.raises(ChargerError, match=r"after 4 attempts \(HTTP 500\)"):
            await charger.start()
