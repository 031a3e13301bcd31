"""The Home Assistant charger against a real Home Assistant: an input_boolean and an
input_number stand in for the wallbox's switch and current limit."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from optimizer.chargers.errors import ChargerError
from optimizer.chargers.homeassistant import HomeAssistantCharger
from optimizer.chargers.limits import CurrentRange
from optimizer.chargers.secret_files import read_secret
from optimizer.chargers.settings import HomeAssistantSettings
from optimizer.events import ChargerState
from optimizer.ports import Charger, MeterSource
from tests.homeassistant.conftest import HomeAssistant, free_port

RANGE = CurrentRange(phases=3, voltage_v=230.0, min_current_a=6.0, max_current_a=16.0)
SWITCH, CURRENT = "input_boolean.wallbox_enable", "input_number.wallbox_current"
NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


class Clock:
    def now(self) -> datetime:
        return NOW


def settings(ha: HomeAssistant, **overrides: object) -> HomeAssistantSettings:
    values: dict[str, object] = {"url": ha.url, "token_file": ha.token_file,
                                 "switch_entity": SWITCH, "current_entity": CURRENT}
    values.update(overrides)
    return HomeAssistantSettings.model_validate(values)


@pytest.fixture
async def charger(home_assistant: HomeAssistant) -> AsyncIterator[HomeAssistantCharger]:
    token = read_secret(home_assistant.token_file, "Home Assistant token")
    async with HomeAssistantCharger("ha", settings(home_assistant), token, RANGE,
                                    Clock()) as wallbox:
        yield wallbox


async def test_start_and_stop_switch_the_input_boolean(
        charger: HomeAssistantCharger, home_assistant: HomeAssistant,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert isinstance(charger, Charger) and isinstance(charger, MeterSource)
    await charger.stop()
    assert home_assistant.state(SWITCH) == "off"
    await charger.start()
    assert home_assistant.state(SWITCH) == "on"
    assert (await charger.status()).state is ChargerState.CHARGING
    await charger.stop()
    assert home_assistant.state(SWITCH) == "off"
    assert (await charger.status()).state is ChargerState.AVAILABLE
    assert "/api/services/input_boolean/turn_off" in caplog.text  # httpx did log the calls
    assert home_assistant.token not in caplog.text  # ... but never the token


async def test_current_limit_sets_the_input_number(
        charger: HomeAssistantCharger, home_assistant: HomeAssistant) -> None:
    await charger.stop()
    await charger.set_current_limit(16.0)
    assert home_assistant.state(CURRENT) == "16.0"
    assert home_assistant.state(SWITCH) == "on"
    await charger.set_current_limit(10.0)
    assert home_assistant.state(CURRENT) == "10.0"
    assert (await charger.status()).current_limit_a == 10.0
    await charger.set_current_limit(40.0)  # clamped to the charger's 16 A
    assert home_assistant.state(CURRENT) == "16.0"
    await charger.set_current_limit(4.0)  # below the 6 A minimum: off
    assert home_assistant.state(SWITCH) == "off"
    assert home_assistant.state(CURRENT) == "16.0"


async def test_meter_sensors_feed_the_estimator(home_assistant: HomeAssistant) -> None:
    headers = {"Authorization": f"Bearer {home_assistant.token}"}
    for entity, state, unit in (("sensor.wallbox_power", "7360", "W"),
                                ("sensor.wallbox_energy", "1234.5", "kWh")):
        response = httpx.post(f"{home_assistant.url}/api/states/{entity}", headers=headers,
                              json={"state": state, "attributes": {"unit_of_measurement": unit}})
        assert response.status_code in (200, 201)
    config = settings(home_assistant, power_entity="sensor.wallbox_power",
                      energy_entity="sensor.wallbox_energy")
    async with HomeAssistantCharger("ha", config, home_assistant.token, RANGE,
                                    Clock()) as wallbox:
        readings = wallbox.readings()
        status = await wallbox.status()
        assert status.power_kw == pytest.approx(7.36)
        assert status.energy_kwh == pytest.approx(1234.5)
        reading = await anext(readings)
        assert (reading.charger, reading.measured_at, reading.power_kw) == ("ha", NOW, 7.36)


async def test_a_wrong_token_is_a_clear_401(home_assistant: HomeAssistant,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with HomeAssistantCharger("ha", settings(home_assistant), "not-a-token", RANGE,
                                    Clock()) as wallbox:
        with pytest.raises(ChargerError, match=r"refused the token \(401\)") as refused:
            await wallbox.start()
    assert "not-a-token" not in str(refused.value)
    assert "not-a-token" not in caplog.text


async def test_an_unknown_entity_is_a_clear_404(home_assistant: HomeAssistant) -> None:
    config = settings(home_assistant, switch_entity="input_boolean.no_such_wallbox")
    async with HomeAssistantCharger("ha", config, home_assistant.token, RANGE,
                                    Clock()) as wallbox:
        with pytest.raises(ChargerError,
                           match=r"no entity 'input_boolean\.no_such_wallbox' \(404\)"):
            await wallbox.start()


async def test_home_assistant_down_is_retried_with_backoff_then_reported(
        home_assistant: HomeAssistant) -> None:
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)

    config = settings(home_assistant, url=f"http://127.0.0.1:{free_port()}")
    async with HomeAssistantCharger("ha", config, home_assistant.token, RANGE, Clock(),
                                    sleep=record) as wallbox:
        with pytest.raises(ChargerError, match=r"cannot reach Home Assistant .* after 4 "
                                               r"attempts \(ConnectError"):
            await wallbox.status()
    assert delays == [0.5, 1.0, 2.0]


async def test_cli_switches_the_wallbox(home_assistant: HomeAssistant, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"""\
tariff = "tariffs/none.toml"

[[vehicles]]
name = "car"
vin = "WBA00000000000U11"
capacity_kwh = 60
charger = "plug"

[[chargers]]
name = "plug"
kind = "homeassistant"

[chargers.homeassistant]
url = "{home_assistant.url}"
token_file = "{home_assistant.token_file}"
switch_entity = "{SWITCH}"
current_entity = "{CURRENT}"
""")
    for args, switch in ((["set", "--current", "12"], "on"), (["stop"], "off")):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "optimizer", "charger", *args, "--json", "--config",
            str(config), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()
        assert json.loads(out)["details"]["switch_state"] == switch
        assert home_assistant.state(SWITCH) == switch
    assert home_assistant.state(CURRENT) == "12.0"
    assert home_assistant.token not in (out + err).decode()
