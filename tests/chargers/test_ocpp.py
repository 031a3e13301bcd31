"""Real OCPP sessions on loopback: our central system against stations built on the `ocpp`
library, for OCPP 1.6J and 2.0.1."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from optimizer.chargers.central_system import CentralSystem
from optimizer.chargers.errors import ChargerError
from optimizer.chargers.limits import step_down
from optimizer.chargers.ocpp_charger import OcppCharger
from optimizer.events import ChargerState, MeterReading
from optimizer.ports import Charger, MeterSource, ScheduleCharger
from tests.chargers.conftest import PASSWORD, RANGE, T0, FakeClock, make_plan
from tests.chargers.ocpp_stations import Connected, basic_auth

VERSIONS = ["ocpp1.6", "ocpp2.0.1"]
# 11 kW -> 15.94 A, 7.4 kW -> 10.72 A, 4.6 kW -> 6.67 A (3 phases at 230 V); zeros stay 0.
POWERS_KW = [0.0, 11.0, 11.0, 7.4, 0.0, 4.6, 0.0, 0.0]


async def transaction_settled(station: object) -> None:
    """Wait until the station has finished its side of a remote start/stop."""
    event: asyncio.Event = station.transaction_event  # type: ignore[attr-defined]
    await asyncio.wait_for(event.wait(), 5)
    event.clear()


def expected_limits(version: str) -> list[float]:
    amps = [p * 1000 / (3 * 230) for p in POWERS_KW]
    amps = [0.0 if a < 6.0 else min(a, 16.0) for a in amps]
    return [step_down(a, 1) for a in amps] if version == "ocpp1.6" else amps


def test_the_charger_implements_its_ports(clock: FakeClock) -> None:
    charger = OcppCharger("garage", "CP1", PASSWORD, RANGE, clock)
    assert isinstance(charger, Charger)
    assert isinstance(charger, ScheduleCharger)
    assert isinstance(charger, MeterSource)


@pytest.mark.parametrize("version", VERSIONS)
async def test_boot_and_status(central: tuple[CentralSystem, OcppCharger], clock: FakeClock,
                               version: str) -> None:
    system, charger = central
    async with Connected(system.url(), "CP1", PASSWORD, version, clock) as station:
        boot = await station.boot()
        assert boot.status == "Accepted"
        assert boot.current_time == "2026-11-22T01:00:00Z"
        await station.send_status("Available")
        await charger.wait_until(lambda: charger.boot_count == 1)
        status = await charger.status()
        assert status.state is ChargerState.AVAILABLE
        assert status.details["connected"] is True
        assert status.details["model"] == ("Lab16" if version == "ocpp1.6" else "Lab201")
        await station.send_status("Faulted")
        assert (await charger.status()).state is ChargerState.FAULT
    await charger.wait_until(lambda: not charger.connected)
    assert (await charger.status()).state is ChargerState.UNKNOWN


@pytest.mark.parametrize("version", VERSIONS)
async def test_plan_goes_to_the_station_as_a_verified_schedule(
    central: tuple[CentralSystem, OcppCharger], clock: FakeClock, version: str
) -> None:
    system, charger = central
    plan = make_plan(T0, POWERS_KW)
    async with Connected(system.url(), "CP1", PASSWORD, version, clock) as station:
        await station.boot()
        await charger.apply_plan(plan)
        profile = station.smart.profiles[1]
        assert profile.purpose == "TxDefaultProfile"
        assert profile.kind == "Absolute"
        assert profile.connector == 0
        assert profile.start == T0
        assert profile.valid_to == T0 + timedelta(hours=2)
        assert profile.duration_s == 2 * 3600
        # equal neighbours merged: 0 | 15.9 15.9 | 10.7 | 0 | 6.6 | 0 0 (1.6: 0.1 A steps, down)
        limits = expected_limits(version)
        assert profile.periods == [
            (0, 0.0), (900, limits[1]), (2700, limits[3]), (3600, 0.0), (4500, limits[5]),
            (5400, 0.0),
        ]
        if version == "ocpp1.6":
            assert limits[1:6] == [15.9, 15.9, 10.7, 0.0, 6.6]  # 4.6 kW is 6.67 A
        asked_first = ["GetConfiguration"] if version == "ocpp1.6" else []
        assert [name for name, _ in station.requests] == [
            *asked_first, "SetChargingProfile", "GetCompositeSchedule"]
        assert charger.mode == "schedule"
        assert charger.schedule_verified is True
        # The station's own composite schedule gives the plan's current in every slot.
        for index, slot in enumerate(plan.slots):
            assert station.smart.limit_at(slot.start) == pytest.approx(limits[index])
        # ... and nothing after validTo: the station falls back to its own maximum.
        assert station.smart.limit_at(plan.slots[-1].end) == 32.0


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_composite_schedule_that_differs_from_the_plan_means_live_control(
    central: tuple[CentralSystem, OcppCharger], clock: FakeClock, version: str
) -> None:
    """A station that accepts the profile but would not follow it (its composite schedule says
    full power) is not trusted: the plan is followed live instead."""
    system, charger = central
    async with Connected(system.url(), "CP1", PASSWORD, version, clock) as station:
        await station.boot()
        station.smart.composite = lambda duration_s: (clock.now(), [(0, 32.0)])
        await charger.apply_plan(make_plan(T0, POWERS_KW))
        assert charger.schedule_verified is False
        assert charger.mode == "live"
        assert charger.last_error == "the station's composite schedule does not match the plan"
        del station.smart.composite  # honest again: the next plan is verified
        await charger.apply_plan(make_plan(T0, POWERS_KW[:4]))
        assert (charger.mode, charger.schedule_verified, charger.last_error) == (
            "schedule", True, None)


@pytest.mark.parametrize("version", VERSIONS)
async def test_remote_start_and_stop(central: tuple[CentralSystem, OcppCharger],
                                     clock: FakeClock, version: str) -> None:
    system, charger = central
    async with Connected(system.url(), "CP1", PASSWORD, version, clock) as station:
        await station.boot()
        await charger.start()
        await transaction_settled(station)
        assert charger.transaction_id == station.smart.transaction_id
        assert (await charger.status()).state is ChargerState.CHARGING
        await charger.stop()
        await transaction_settled(station)
        assert charger.transaction_id is None
        assert station.smart.transaction_id is None
        assert [n for n, _ in station.requests][-1] in ("RemoteStopTransaction",
                                                        "RequestStopTransaction")


@pytest.mark.parametrize("version", VERSIONS)
async def test_manual_limit_is_clamped_and_sent_as_tx_profile(
    central: tuple[CentralSystem, OcppCharger], clock: FakeClock, version: str
) -> None:
    system, charger = central
    async with Connected(system.url(), "CP1", PASSWORD, version, clock) as station:
        await station.boot()
        await charger.set_current_limit(3.0)  # below the 6 A minimum means off
        assert station.smart.transaction_id is None
        await charger.set_current_limit(4.0 + 3.0)  # starts with a 7 A TxProfile
        await transaction_settled(station)
        assert station.smart.limit_at(clock.now()) == 7.0
        await charger.set_current_limit(40.0)  # clamped to the 16 A maximum
        assert station.smart.limit_at(clock.now()) == 16.0
        await charger.set_current_limit(0.0)  # 0 means stop
        await transaction_settled(station)
        assert charger.transaction_id is None


@pytest.mark.parametrize("version", VERSIONS)
async def test_meter_values_reach_the_estimator_port(
    central: tuple[CentralSystem, OcppCharger], clock: FakeClock, version: str
) -> None:
    system, charger = central
    readings = charger.readings()
    async with Connected(system.url(), "CP1", PASSWORD, version, clock) as station:
        await station.boot()
        at = T0 + timedelta(minutes=5)
        await station.send_meter(energy_wh=12345.0, power_w=7360.0, at=at)
        reading = await asyncio.wait_for(anext(readings), 5)
    assert reading == MeterReading("garage", at, energy_kwh=12.345, power_kw=7.36)
    status = await charger.status()
    assert status.energy_kwh == 12.345
    assert status.power_kw == 7.36


@pytest.mark.parametrize("version", VERSIONS)
async def test_wrong_password_is_refused_with_401(
    central: tuple[CentralSystem, OcppCharger], version: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    system, charger = central
    cases = [
        ("CP1", basic_auth("CP1", "Wr0ng-Pa55")),
        ("CP1", basic_auth("CP2", PASSWORD)),  # username must be the station id
        ("CP1", {}),  # no credentials at all
        ("CP9", basic_auth("CP9", PASSWORD)),  # unknown station
    ]
    for station_id, headers in cases:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"{system.url()}/{station_id}", subprotocols=[version],
                               additional_headers=headers):
                pass
        assert refused.value.response.status_code == 401
        assert refused.value.response.headers["WWW-Authenticate"].startswith("Basic")
    with pytest.raises(InvalidStatus) as wrong_path:
        async with connect(f"ws://127.0.0.1:{system.port}/other/CP1", subprotocols=[version],
                           additional_headers=basic_auth("CP1", PASSWORD)):
            pass
    assert wrong_path.value.response.status_code == 404
    assert not charger.connected
    assert "refused station 'CP1'" in caplog.text
    assert PASSWORD not in caplog.text and "Wr0ng-Pa55" not in caplog.text


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_reconnecting_station_gets_its_schedule_again(
    central: tuple[CentralSystem, OcppCharger], clock: FakeClock, version: str
) -> None:
    system, charger = central
    plan = make_plan(T0, POWERS_KW)
    await charger.apply_plan(plan)  # not connected yet: kept for the next connection
    async with Connected(system.url(), "CP1", PASSWORD, version, clock) as first:
        await first.boot()
        await asyncio.wait_for(first.smart.changed.wait(), 5)
        sent_first = first.smart.profiles[1].periods
    await charger.wait_until(lambda: not charger.connected)
    clock.advance(20 * 60)
    async with Connected(system.url(), "CP1", PASSWORD, version, clock) as second:
        assert second.smart.profiles == {}
        await second.boot()
        await asyncio.wait_for(second.smart.changed.wait(), 5)
        assert second.smart.profiles[1].periods == sent_first
        assert second.smart.profiles[1].valid_to == plan.slots[-1].end
        await charger.wait_until(lambda: charger.schedule_verified)
        assert charger.mode == "schedule"


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_station_back_without_booting_is_served_on_its_heartbeat(
    central: tuple[CentralSystem, OcppCharger], clock: FakeClock, version: str
) -> None:
    """After a network glitch a station may only send Heartbeats; it still gets the plan."""
    system, charger = central
    await charger.apply_plan(make_plan(T0, POWERS_KW))
    async with Connected(system.url(), "CP1", PASSWORD, version, clock) as station:
        beat = await station.heartbeat()
        assert beat.current_time == "2026-11-22T01:00:00Z"
        await asyncio.wait_for(station.smart.changed.wait(), 5)
        assert 1 in station.smart.profiles
        assert charger.boot_count == 0


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_station_rejecting_profiles_is_driven_live(
    central: tuple[CentralSystem, OcppCharger], clock: FakeClock, version: str
) -> None:
    system, charger = central
    plan = make_plan(T0, POWERS_KW)
    async with Connected(system.url(), "CP1", PASSWORD, version, clock,
                         reject_profiles="default") as station:
        await station.boot()
        await charger.apply_plan(plan)  # slot 0 is 0 kW: nothing to do yet
        assert charger.mode == "live"
        assert charger.schedule_verified is False
        assert station.smart.transaction_id is None
        clock.current = T0 + timedelta(minutes=20)  # inside the first 11 kW slot
        await charger.tick(clock.now())
        await transaction_settled(station)
        assert station.smart.transaction_id is not None
        assert station.smart.limit_at(clock.now()) == pytest.approx(expected_limits(version)[1])
        clock.current = T0 + timedelta(minutes=50)  # 7.4 kW slot
        await charger.tick(clock.now())
        assert station.smart.limit_at(clock.now()) == pytest.approx(expected_limits(version)[3])
        clock.current = T0 + timedelta(minutes=61)  # 0 kW slot: remote stop
        await charger.tick(clock.now())
        await transaction_settled(station)
        assert station.smart.transaction_id is None


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_station_refusing_every_profile_still_follows_on_and_off(
    central: tuple[CentralSystem, OcppCharger], clock: FakeClock, version: str
) -> None:
    system, charger = central
    async with Connected(system.url(), "CP1", PASSWORD, version, clock,
                         reject_profiles="all") as station:
        await station.boot()
        await charger.apply_plan(make_plan(T0, POWERS_KW))
        clock.current = T0 + timedelta(minutes=20)
        await charger.tick(clock.now())
        await transaction_settled(station)
        assert station.smart.transaction_id is not None
        assert charger.last_error is not None and "live limit" in charger.last_error
        clock.current = T0 + timedelta(minutes=61)
        await charger.tick(clock.now())
        await transaction_settled(station)
        assert station.smart.transaction_id is None


async def test_a_transaction_running_before_we_connected_is_learnt_from_meter_values(
    central: tuple[CentralSystem, OcppCharger], clock: FakeClock
) -> None:
    system, charger = central
    async with Connected(system.url(), "CP1", PASSWORD, "ocpp1.6", clock) as station:
        await station.boot()
        station.smart.transaction_id = "4711"  # started under an earlier central system
        await station.send_status("Charging")
        with pytest.raises(ChargerError, match="started before this connection"):
            await charger.stop()
        await station.send_meter(2000.0, 11000.0, clock.now(), transaction_id=4711)
        assert charger.transaction_id == "4711"
        await charger.stop()
        await transaction_settled(station)
        assert station.requests[-1] == ("RemoteStopTransaction", {"transaction_id": 4711})
        assert station.smart.transaction_id is None


async def test_a_16_station_with_too_few_schedule_periods_is_driven_live(
    central: tuple[CentralSystem, OcppCharger], clock: FakeClock
) -> None:
    system, charger = central
    async with Connected(system.url(), "CP1", PASSWORD, "ocpp1.6", clock,
                         max_periods=3) as station:
        await station.boot()
        await charger.apply_plan(make_plan(T0, POWERS_KW))  # needs 6 periods
        assert station.requests == [
            ("GetConfiguration", {"key": ["ChargingScheduleMaxPeriods"]})]
        assert charger.mode == "live"
        assert charger.last_error == ("the station holds at most 3 schedule periods and the "
                                      "plan needs 6")


async def test_call_errors_raise(central: tuple[CentralSystem, OcppCharger],
                                 clock: FakeClock) -> None:
    """A station without a GetCompositeSchedule handler answers NotImplemented: that raises."""
    system, charger = central

    async with Connected(system.url(), "CP1", PASSWORD, "ocpp1.6", clock) as station:
        station.route_map.pop("GetCompositeSchedule")
        await station.boot()
        with pytest.raises(ChargerError, match="GetCompositeSchedule"):
            await charger.apply_plan(make_plan(T0, POWERS_KW))


async def test_commands_without_a_station_name_the_problem(clock: FakeClock) -> None:
    charger = OcppCharger("garage", "CP1", PASSWORD, RANGE, clock, wait_timeout_s=0.05)
    with pytest.raises(ChargerError, match="'CP1' is not connected"):
        await charger.start()
    with pytest.raises(ChargerError, match="timed out waiting for the station to connect"):
        await charger.wait_connected()
