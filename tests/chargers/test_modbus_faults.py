"""A box that lies: NaN, all-0xFFFF registers, text that is not text, absurd timeouts. The
driver reports a device fault naming the register instead of passing the lie on, and the
heartbeat keeps going at the map's period. Against the pymodbus boxes of `wallboxes.py`."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import pytest

from optimizer.chargers.errors import ChargerError, DeviceFault
from optimizer.chargers.limits import CurrentRange
from optimizer.chargers.modbus import ModbusCharger
from optimizer.chargers.modbus_map import load_map
from optimizer.events import ChargerState
from tests.chargers.conftest import FakeClock
from tests.chargers.test_modbus import Ticks
from tests.chargers.wallboxes import VENDORS, SimulatedWallbox, Vendor, f32, u32

RANGE = CurrentRange(phases=3, voltage_v=230.0, min_current_a=6.0, max_current_a=16.0)
BY_NAME = {v.map_name: v for v in VENDORS}


async def _driver(sim: SimulatedWallbox, clock: FakeClock, **options: float) -> ModbusCharger:
    driver = ModbusCharger("wb", load_map(sim.vendor.map_name), RANGE, clock,
                           host="127.0.0.1", port=sim.port, timeout_s=1.0, retry_delay_s=0.0,
                           **options)  # type: ignore[arg-type]
    await driver.connect()
    return driver


@pytest.fixture
async def alfen(clock: FakeClock) -> AsyncIterator[tuple[SimulatedWallbox, ModbusCharger]]:
    async with SimulatedWallbox(BY_NAME["alfen_eve"], clock) as sim:
        driver = await _driver(sim, clock)
        try:
            yield sim, driver
        finally:
            await driver.close()


async def test_a_nan_read_back_fails_the_verification(
        alfen: tuple[SimulatedWallbox, ModbusCharger]) -> None:
    sim, driver = alfen
    sim.lie = {("holding", 1210): f32(math.nan)}
    with pytest.raises(DeviceFault, match=r"device fault: current \(holding 1210\) reads nan"):
        await driver.set_current_limit(16.0)


async def test_a_status_text_of_0xff_bytes_is_a_device_fault(
        alfen: tuple[SimulatedWallbox, ModbusCharger]) -> None:
    sim, driver = alfen
    sim.lie = {("holding", 1201): [0xFFFF] * 5}
    with pytest.raises(DeviceFault, match=r"status \(holding 1201\) holds bytes that are not "
                                          r"text \(FFFF FFFF FFFF FFFF FFFF\)"):
        await driver.decode_state()
    sim.lie = {("holding", 1201): [0x4307, 0, 0, 0, 0]}  # 'C' and a bell
    with pytest.raises(DeviceFault, match="control characters"):
        await driver.decode_state()


def _all_ones(vendor: Vendor) -> dict[tuple[str, int], list[int]]:
    return {key: [0xFFFF] * len(words) for key, words in vendor.layout.items()}


@pytest.mark.parametrize("vendor", VENDORS, ids=lambda v: v.map_name)
async def test_a_box_of_all_0xffff_is_a_fault_never_a_confident_state(
        vendor: Vendor, clock: FakeClock) -> None:
    async with SimulatedWallbox(vendor, clock) as sim:
        driver = await _driver(sim, clock)
        try:
            sim.lie = _all_ones(vendor)
            with pytest.raises(DeviceFault, match=r"device fault: (power|energy) "):
                await driver.status()  # 4,295 kW or 4.3 GWh or NaN: refused, not reported
            try:
                state = await driver.decode_state()
            except DeviceFault:
                state = None
            # Where the vendor's codes are known the status register is a fault too; where
            # they are not, the state is at most "unknown", never available or charging.
            assert state in (None, ChargerState.UNKNOWN), state
        finally:
            await driver.close()


@pytest.mark.parametrize("name, timeout_register, expected_period_s", [
    ("keba_p30", ("holding", 1602), 15.0),
    ("vestel_evc04", ("holding", 2002), 5.0),
])
async def test_an_absurd_timeout_keeps_the_maps_period_and_the_box_alive(
        clock: FakeClock, name: str, timeout_register: tuple[str, int],
        expected_period_s: float) -> None:
    vendor = BY_NAME[name]
    words = len(vendor.layout[timeout_register])
    async with SimulatedWallbox(vendor, clock) as sim:
        sim.lie = {timeout_register: [0xFFFF] * words}  # 18 hours or 136 years
        driver = await _driver(sim, clock)
        try:
            await driver.set_current_limit(16.0)
            ticks = Ticks(clock)
            driver.start_heartbeat(ticks)
            assert await ticks.next_period() == expected_period_s
            assert driver.last_error is not None and "device fault" in driver.last_error
            assert driver.heartbeat_period_s == expected_period_s
            assert vendor.timeout_s is not None
            for _ in range(int(3 * vendor.timeout_s / expected_period_s) + 1):
                ticks.grant()
                await ticks.next_period()
                assert not sim.in_failsafe(), f"fell back after {clock.now()}"
            if name == "keba_p30":  # the keep-alive re-writes a timeout that fits the period
                assert sim.writes[-1] == (6, 5018, [30])
        finally:
            await driver.close()


async def test_the_heartbeat_survives_a_device_fault_and_recovers(clock: FakeClock) -> None:
    vendor = BY_NAME["abb_terra_ac"]  # its keep-alive reads the status word
    async with SimulatedWallbox(vendor, clock) as sim:
        driver = await _driver(sim, clock, retries=0)
        try:
            ticks = Ticks(clock)
            driver.start_heartbeat(ticks)
            assert await ticks.next_period() == 30.0
            sim.lie = {("holding", 0x400C): [0xFFFF, 0xFFFF]}
            ticks.grant()
            assert await ticks.next_period() == 30.0  # still beating, same period
            assert driver.last_error is not None
            assert "device fault: status (holding 16396) reads 127" in driver.last_error
            sim.lie = {}
            sim.set({("holding", 0x400C): [0, 0x0400]})  # the box is back: charging
            ticks.grant()
            assert await ticks.next_period() == 30.0
            assert driver.last_error is None
        finally:
            await driver.close()


async def test_abb_stopped_session_with_the_car_connected_is_plugged(clock: FakeClock) -> None:
    vendor = BY_NAME["abb_terra_ac"]
    async with SimulatedWallbox(vendor, clock) as sim:
        driver = await _driver(sim, clock)
        try:
            sim.set({("holding", 0x400C): [0, 0x0500], ("holding", 0x400A): u32(0x0101)})
            assert await driver.decode_state() is ChargerState.PLUGGED
            assert (await driver.status()).state is ChargerState.PLUGGED
            sim.set({("holding", 0x400A): u32(0)})
            assert await driver.decode_state() is ChargerState.AVAILABLE
        finally:
            await driver.close()


async def test_a_fault_is_a_charger_error_the_cli_reports_in_one_line(
        alfen: tuple[SimulatedWallbox, ModbusCharger]) -> None:
    sim, driver = alfen
    sim.lie = {("holding", 344): f32(math.inf)}
    with pytest.raises(ChargerError) as caught:
        await asyncio.wait_for(driver.status(), 10)
    assert "\n" not in str(caught.value) and "power (holding 344) reads inf" in str(caught.value)
