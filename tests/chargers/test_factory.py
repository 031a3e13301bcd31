"""Building chargers from config: shared central systems, relative secret paths."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from optimizer.chargers.errors import ChargerError
from optimizer.chargers.factory import open_charger, open_chargers
from optimizer.chargers.modbus import ModbusCharger
from optimizer.chargers.ocpp_charger import OcppCharger
from optimizer.config import parse_config
from tests.chargers.conftest import FakeClock
from tests.chargers.ocpp_stations import Connected
from tests.chargers.wallboxes import VENDORS, SimulatedWallbox, free_port


def config_with(chargers: list[dict[str, Any]]) -> Any:
    return parse_config({
        "tariff": "none.toml",
        "vehicles": [{"name": "car", "vin": "WBA00000000000U11", "capacity_kwh": 60,
                      "charger": chargers[0]["name"]}],
        "chargers": chargers,
    })


def secret(folder: Path, name: str, value: str) -> str:
    path = folder / name
    path.touch(mode=0o600)
    path.write_text(value)
    return name  # relative: resolved against the config's folder


async def test_two_ocpp_stations_share_one_central_system_next_to_a_modbus_box(
        tmp_path: Path, clock: FakeClock) -> None:
    port = free_port()
    vestel = next(v for v in VENDORS if v.map_name == "vestel_evc04")
    async with SimulatedWallbox(vestel, clock) as sim:
        config = config_with([
            {"name": "left", "kind": "ocpp", "ocpp": {
                "station_id": "L", "port": port, "password_file": secret(tmp_path, "l", "pw-L")}},
            {"name": "right", "kind": "ocpp", "ocpp": {
                "station_id": "R", "port": port, "password_file": secret(tmp_path, "r", "pw-R")}},
            {"name": "carport", "kind": "modbus", "modbus": {
                "host": "127.0.0.1", "port": sim.port, "model": "vestel_evc04"}},
            {"name": "demo", "kind": "simulated"},
        ])
        async with open_chargers(config.chargers, tmp_path, clock) as chargers:
            assert sorted(chargers) == ["carport", "left", "right"]
            assert isinstance(chargers["carport"], ModbusCharger)
            left, right = chargers["left"], chargers["right"]
            assert isinstance(left, OcppCharger) and isinstance(right, OcppCharger)
            url = f"ws://127.0.0.1:{port}/ocpp"
            async with Connected(url, "L", "pw-L", "ocpp1.6", clock) as station_l, \
                    Connected(url, "R", "pw-R", "ocpp2.0.1", clock) as station_r:
                await asyncio.gather(station_l.boot(), station_r.boot())
                await left.wait_until(lambda: left.ready and right.ready)
                assert (await left.status()).details["model"] == "Lab16"
                assert (await right.status()).details["model"] == "Lab201"


async def test_a_simulated_charger_cannot_be_opened(tmp_path: Path, clock: FakeClock) -> None:
    config = config_with([{"name": "demo", "kind": "simulated"}])
    with pytest.raises(ChargerError, match="'demo' is simulated"):
        async with open_charger(config.chargers[0], tmp_path, clock):
            pass


async def test_a_station_that_never_connects_times_out_with_its_name(
        tmp_path: Path, clock: FakeClock) -> None:
    config = config_with([{"name": "garage", "kind": "ocpp", "ocpp": {
        "station_id": "G", "port": free_port(), "password_file": secret(tmp_path, "g", "pw")}}])
    with pytest.raises(ChargerError, match=r"garage.*timed out waiting for the station to connect"):
        async with open_charger(config.chargers[0], tmp_path, clock, wait_s=0.2):
            pass
