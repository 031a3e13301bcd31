"""OCPP hardening against real peers on loopback: credentials never reach the logs (at DEBUG
either), a frame nested 100,000 deep gets a FormationViolation instead of killing the session,
2.0.1 `Occupied` does not hide a running charge, and `stop` on a reconnected 2.0.1 station asks
for the transaction and returns only once the station has ended it."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call as call16
from websockets.asyncio.client import connect

from optimizer.chargers.central_system import CentralSystem
from optimizer.chargers.errors import ChargerError
from optimizer.chargers.ocpp_charger import OcppCharger
from optimizer.events import ChargerState
from tests.chargers.conftest import PASSWORD, RANGE, FakeClock
from tests.chargers.ocpp_stations import Connected, basic_auth
from tests.chargers.test_cli import write_config
from tests.chargers.wallboxes import free_port

TOKEN = base64.b64encode(f"CP1:{PASSWORD}".encode()).decode()


def raw_station(system: CentralSystem) -> Any:
    """Station CP1 as a bare WebSocket, to send frames the `ocpp` library never would."""
    return connect(f"{system.url()}/CP1", subprotocols=["ocpp2.0.1"],  # type: ignore[list-item]
                   additional_headers=basic_auth("CP1", PASSWORD))


async def test_authorization_is_redacted_from_debug_logs(
        central: tuple[CentralSystem, OcppCharger], clock: FakeClock,
        caplog: pytest.LogCaptureFixture) -> None:
    system, charger = central
    caplog.set_level(logging.DEBUG)
    async with Connected(system.url(), "CP1", PASSWORD, "ocpp2.0.1", clock) as station:
        await station.boot()
        await charger.wait_until(lambda: charger.boot_count == 1)
    server_lines = [r.getMessage() for r in caplog.records if r.name.startswith(
        "websockets.server")]
    assert any("Authorization: [redacted]" in line for line in server_lines), server_lines
    everything = "\n".join(r.getMessage() for r in caplog.records
                           if not r.name.startswith("websockets.client"))
    assert TOKEN not in everything and PASSWORD not in everything


def test_the_cli_with_debug_never_prints_the_station_password(tmp_path: Path) -> None:
    asyncio.run(_cli_with_debug(tmp_path))


async def _cli_with_debug(tmp_path: Path) -> None:
    port = free_port()
    secret = tmp_path / "cp.password"
    secret.touch(mode=0o600)
    secret.write_text(PASSWORD + "\n")
    config = write_config(tmp_path, "garage", "ocpp", (
        f'[chargers.ocpp]\nstation_id = "CP1"\npassword_file = "cp.password"\nport = {port}\n'))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "optimizer", "--debug", "charger", "status", "--json",
        "--wait", "30", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert process.stderr is not None
    while b"waiting up to" not in await asyncio.wait_for(process.stderr.readline(), 60):
        pass
    clock = FakeClock()
    async with Connected(f"ws://127.0.0.1:{port}/ocpp", "CP1", PASSWORD, "ocpp1.6",
                         clock) as station:
        await station.boot()
        out, err = await asyncio.wait_for(process.communicate(), 60)
    assert await process.wait() == 0, err.decode()
    assert json.loads(out)["details"]["station_id"] == "CP1"
    assert b"Authorization: [redacted]" in err  # --debug did log the handshake
    assert TOKEN.encode() not in err and PASSWORD.encode() not in err


async def test_a_frame_nested_100k_deep_gets_a_formation_violation_not_a_1011(
        central: tuple[CentralSystem, OcppCharger], caplog: pytest.LogCaptureFixture) -> None:
    system, charger = central
    async with raw_station(system) as ws:
        deep = "[" * 100_000 + "]" * 100_000
        await ws.send(f'[2,"deep-1","Heartbeat",{{"x":{deep}}}]')
        answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert answer[:3] == [4, "deep-1", "FormationViolation"]
        await ws.send(deep)  # not even a CALL: dropped, with a warning
        await ws.send('[2,"hb-1","Heartbeat",{}]')
        answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert answer[:2] == [3, "hb-1"] and "currentTime" in answer[2]  # session alive
        assert charger.connected
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("nested deeper than 32 levels" in w for w in warnings) == 2


async def test_occupied_does_not_overwrite_a_charge_from_transaction_event(
        central: tuple[CentralSystem, OcppCharger], clock: FakeClock) -> None:
    system, charger = central
    async with Connected(system.url(), "CP1", PASSWORD, "ocpp2.0.1", clock) as station:
        await station.boot()
        await station.send_status("Occupied")
        assert (await charger.status()).state is ChargerState.PLUGGED
        await charger.start()
        await asyncio.wait_for(station.transaction_event.wait(), 5)
        assert (await charger.status()).state is ChargerState.CHARGING
        await station.send_status("Occupied")  # resent during the charge (and on reconnects)
        assert (await charger.status()).state is ChargerState.CHARGING
        await station.send_status("Available")  # unplugged: that one does count
        assert (await charger.status()).state is ChargerState.AVAILABLE


async def test_stop_on_a_reconnected_station_learns_the_transaction_and_waits_for_the_end(
        central: tuple[CentralSystem, OcppCharger], clock: FakeClock) -> None:
    system, charger = central
    async with Connected(system.url(), "CP1", PASSWORD, "ocpp2.0.1", clock,
                         ongoing="tx-9") as station:
        # Back after a network glitch: no boot, Occupied before the queued TransactionEvents.
        await station.send_status("Occupied")
        await charger.stop()
        names = [name for name, _ in station.requests]
        assert "TriggerMessage" in names
        assert station.requests[-1] == ("RequestStopTransaction", {"transaction_id": "tx-9"})
        # stop() returned only after the station's TransactionEvent Ended had arrived
        assert charger.transaction_id is None
        assert (await charger.status()).state is ChargerState.PLUGGED
        await asyncio.wait_for(station.transaction_event.wait(), 5)
        assert station.smart.transaction_id is None


async def test_a_stop_the_station_never_confirms_is_an_error(clock: FakeClock) -> None:
    system = CentralSystem(clock, response_timeout_s=5)
    charger = system.add(OcppCharger("garage", "CP1", PASSWORD, RANGE, clock,
                                     wait_timeout_s=1))
    async with system, Connected(system.url(), "CP1", PASSWORD, "ocpp2.0.1", clock,
                                 ongoing="tx-3", confirm_stop=False) as station:
        await station.send_status("Occupied")
        with pytest.raises(ChargerError, match=r"end transaction tx-3 .*has not confirmed"):
            await charger.stop()
        assert station.requests[-1] == ("RequestStopTransaction", {"transaction_id": "tx-3"})


async def test_stop_without_a_transaction_anywhere_sends_no_stop(
        central: tuple[CentralSystem, OcppCharger], clock: FakeClock) -> None:
    system, charger = central
    async with Connected(system.url(), "CP1", PASSWORD, "ocpp2.0.1", clock) as station:
        await station.send_status("Occupied")
        await charger.stop()
        names = [name for name, _ in station.requests]
        assert "RequestStopTransaction" not in names
        assert names[-1] == "GetTransactionStatus"  # the trigger was rejected: none queued?


def test_the_central_system_refuses_plain_ws_on_the_network(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match=r"'0\.0\.0\.0' without TLS"):
        CentralSystem(clock, host="0.0.0.0")
    assert CentralSystem(clock, host="0.0.0.0", allow_insecure=True).station_ids == []
    assert CentralSystem(clock, host="::1").station_ids == []


async def test_meter_values_that_are_not_finite_are_no_readings(
        central: tuple[CentralSystem, OcppCharger], clock: FakeClock) -> None:
    system, charger = central
    async with Connected(system.url(), "CP1", PASSWORD, "ocpp1.6", clock) as station:
        await station.boot()
        await station.send_meter(2000.0, 7000.0, clock.now())
        for bad in ("NaN", "1e400", "-inf"):
            await station.call(call16.MeterValues(connector_id=1, meter_value=[{
                "timestamp": "2026-11-22T01:00:00Z",
                "sampled_value": [{"value": bad, "measurand": "Power.Active.Import",
                                   "unit": "W"}]}]), suppress=False)
        status = await charger.status()
        assert (status.power_kw, status.energy_kwh) == (7.0, 2.0)


async def test_a_stations_malformed_requests_are_one_warning_line_not_a_traceback(
        central: tuple[CentralSystem, OcppCharger], caplog: pytest.LogCaptureFixture) -> None:
    system, _ = central
    async with raw_station(system) as ws:
        await ws.send('[2,"x1","SelfDestruct",{}]')  # unknown action: CALLERROR
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))[:3] == [
            4, "x1", "NotSupported"]
        await ws.send("[2," + "x" * 5000)  # not JSON: logged (cut short), session goes on
        await ws.send('[2,"hb","Heartbeat",{}]')
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))[:2] == [3, "hb"]
    from_ocpp = [r for r in caplog.records if r.name == "ocpp" and r.levelno >= logging.WARNING]
    assert len(from_ocpp) == 2
    assert all(r.exc_info is None and r.levelno == logging.WARNING for r in from_ocpp)
    assert all(len(r.getMessage()) < 700 for r in from_ocpp)
