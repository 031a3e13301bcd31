"""`ev-optimizer charger ...` end to end: the CLI in a subprocess against a simulated Modbus box
and an OCPP station built on the `ocpp` library."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from ocpp.v16 import call

from optimizer.cli import main
from tests.chargers.conftest import FakeClock
from tests.chargers.ocpp_stations import Connected, Station16
from tests.chargers.wallboxes import VENDORS, SimulatedWallbox, free_port

BASE = """\
tariff = "tariffs/none.toml"

[[vehicles]]
name = "car"
vin = "WBA00000000000U11"
capacity_kwh = 60
charger = "{name}"

[[chargers]]
name = "{name}"
kind = "{kind}"
min_current_a = 6
max_current_a = 16
"""


async def cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "optimizer", "charger", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return await process.wait(), out.decode(), err.decode()


def write_config(folder: Path, name: str, kind: str, table: str) -> Path:
    path = folder / "config.toml"
    path.write_text(BASE.format(name=name, kind=kind) + table)
    return path


async def test_modbus_set_and_status(tmp_path: Path, clock: FakeClock) -> None:
    vestel = next(v for v in VENDORS if v.map_name == "vestel_evc04")
    async with SimulatedWallbox(vestel, clock) as sim:
        config = write_config(tmp_path, "carport", "modbus", (
            f'[chargers.modbus]\nhost = "127.0.0.1"\nport = {sim.port}\n'
            f'model = "vestel_evc04"\n'))
        code, out, err = await cli("set", "--current", "10", "--json", "--config", str(config))
        assert code == 0, err
        result = json.loads(out)
        assert (result["applied_a"], result["current_limit_a"]) == (10, 10)
        assert result["kind"] == "modbus"
        assert sim.writes == [(6, 5004, [10])]
        code, out, err = await cli("set", "--current", "40", "--config", str(config))
        assert code == 0, err
        assert "carport: limit 16 A (asked 40 A; range 6-16 A" in out
        assert sim.writes[-1] == (6, 5004, [16])
        code, out, _ = await cli("status", "--config", str(config))
        assert code == 0
        assert "carport (modbus): available" in out


def test_mistakes_exit_2_with_one_line(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, "carport", "modbus",
                          '[chargers.modbus]\nhost = "127.0.0.1"\nmodel = "keba_p30"\n')
    assert main(["charger", "status", "--config", str(config), "--charger", "garage"]) == 2
    assert capsys.readouterr().err == "error: no charger named 'garage' in the config\n"
    assert main(["charger", "set", "--current", "-3", "--config", str(config)]) == 2
    assert capsys.readouterr().err == "error: --current must be 0 or more amperes (got -3)\n"
    config.write_text(config.read_text().replace("keba_p30", "nope"))
    assert main(["charger", "status", "--config", str(config)]) == 2
    assert "chargers[0].modbus.model: 'nope' is not a shipped register map; use one of " \
           "abb_terra_ac," in capsys.readouterr().err


async def test_ocpp_start_waits_for_the_station_and_remote_starts(
        tmp_path: Path, clock: FakeClock) -> None:
    port = free_port()
    secret = tmp_path / "cp.password"
    secret.touch(mode=0o600)
    secret.write_text("cli-Passw0rd\n")
    config = write_config(tmp_path, "garage", "ocpp", (
        f'[chargers.ocpp]\nstation_id = "CPX"\npassword_file = "cp.password"\nport = {port}\n'))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "optimizer", "charger", "start", "--json", "--wait", "30",
        "--config", str(config), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert process.stderr is not None
    announced = (await asyncio.wait_for(process.stderr.readline(), 60)).decode()
    url = f"ws://127.0.0.1:{port}/ocpp/CPX"
    assert announced == f"garage: waiting up to 30 s for station 'CPX' to connect to {url}\n"
    session = Connected(f"ws://127.0.0.1:{port}/ocpp", "CPX", "cli-Passw0rd", "ocpp1.6", clock)
    station: Station16 = await session.__aenter__()
    try:
        await station.call(call.BootNotification(charge_point_vendor="Lab",
                                                 charge_point_model="CLI"), suppress=False)
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err
        result = json.loads(out)
        assert result["details"]["station_id"] == "CPX"
        assert [name for name, _ in station.requests] == ["RemoteStartTransaction"]
        assert station.requests[0][1]["id_tag"] == "ev-optimizer"
    finally:
        await session.__aexit__()
