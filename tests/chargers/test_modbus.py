"""The generic Modbus driver against a pymodbus server per shipped register map."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from optimizer.chargers.errors import ChargerError
from optimizer.chargers.follower import PlanFollower
from optimizer.chargers.limits import CurrentRange
from optimizer.chargers.modbus import ModbusCharger
from optimizer.chargers.modbus_map import available_maps, load_map
from optimizer.errors import ConfigError
from optimizer.events import ChargerState
from optimizer.model import SLOT
from optimizer.ports import Charger, MeterSource, ScheduleCharger
from tests.chargers.conftest import T0, FakeClock, make_plan
from tests.chargers.wallboxes import VENDORS, SimulatedWallbox, Vendor, free_port

RANGE = CurrentRange(phases=3, voltage_v=230.0, min_current_a=6.0, max_current_a=16.0)
BY_NAME = {v.map_name: v for v in VENDORS}


def test_every_shipped_map_has_a_simulated_box_and_there_are_at_least_six() -> None:
    assert sorted(BY_NAME) == available_maps()
    assert len(available_maps()) >= 6


class Ticks:
    """The heartbeat's ticker: each period passes only when the test says so."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.asked: asyncio.Queue[float] = asyncio.Queue()
        self.granted: asyncio.Queue[None] = asyncio.Queue()

    async def __call__(self, period_s: float) -> None:
        await self.asked.put(period_s)
        await self.granted.get()
        self.clock.advance(period_s)

    async def next_period(self) -> float:
        """Wait until the heartbeat sleeps again (the previous beat is done)."""
        return await asyncio.wait_for(self.asked.get(), 5)

    def grant(self) -> None:
        self.granted.put_nowait(None)


@pytest.fixture(params=[v.map_name for v in VENDORS])
async def box(request: pytest.FixtureRequest,
              clock: FakeClock) -> AsyncIterator[tuple[Vendor, SimulatedWallbox, ModbusCharger]]:
    vendor = BY_NAME[request.param]
    async with SimulatedWallbox(vendor, clock) as sim:
        driver = ModbusCharger("wb", load_map(vendor.map_name), RANGE, clock, host="127.0.0.1",
                               port=sim.port, timeout_s=1.0, retry_delay_s=0.0)
        async with driver:
            yield vendor, sim, driver


async def test_exact_writes_for_6a_16a_and_pause(
        box: tuple[Vendor, SimulatedWallbox, ModbusCharger]) -> None:
    vendor, sim, driver = box
    assert isinstance(driver, Charger) and isinstance(driver, MeterSource)
    await driver.set_current_limit(6.0)
    assert sim.writes == vendor.writes_6a
    sim.writes.clear()
    await driver.set_current_limit(16.0)
    assert sim.writes == vendor.writes_16a
    sim.writes.clear()
    await driver.set_current_limit(0.0)
    assert sim.writes == vendor.writes_pause
    sim.writes.clear()
    await driver.set_current_limit(5.0)  # below the 6 A minimum: a pause, not 5 A
    assert sim.writes == vendor.writes_pause
    sim.writes.clear()
    await driver.set_current_limit(40.0)  # above the charger's 16 A maximum
    assert sim.writes == vendor.writes_16a
    assert (await driver.status()).current_limit_a == 16.0


async def test_status_decoding(box: tuple[Vendor, SimulatedWallbox, ModbusCharger]) -> None:
    vendor, sim, driver = box
    for layout, expected in vendor.status_cases:
        sim.set(layout)
        assert await driver.decode_state() is expected, layout


async def test_meter_decoding_reaches_the_meter_feed(
        box: tuple[Vendor, SimulatedWallbox, ModbusCharger], clock: FakeClock) -> None:
    vendor, sim, driver = box
    sim.set(vendor.meter_layout)
    readings = driver.readings()
    status = await driver.status()
    assert status.power_kw == pytest.approx(vendor.power_kw, rel=1e-6)
    assert status.energy_kwh == pytest.approx(vendor.energy_kwh, rel=1e-9)
    reading = await asyncio.wait_for(anext(readings), 5)
    assert reading.measured_at == clock.now()
    assert reading.power_kw == status.power_kw


async def test_heartbeat_keeps_the_box_out_of_failsafe(
        box: tuple[Vendor, SimulatedWallbox, ModbusCharger], clock: FakeClock) -> None:
    vendor, sim, driver = box
    await driver.set_current_limit(16.0)
    ticks = Ticks(clock)
    if vendor.timeout_s is None:
        # No watchdog documented for this box: the heartbeat ends at once, without waiting for
        # a single period or touching a register, and the status says there is none.
        assert driver.map.heartbeat is None
        await asyncio.wait_for(driver.run_heartbeat(ticks), 5)
        assert ticks.asked.empty()
        assert sim.writes == vendor.writes_16a
        assert (await driver.status()).details["heartbeat_period_s"] is None
        return
    driver.start_heartbeat(ticks)
    period_s = await ticks.next_period()
    assert period_s == vendor.heartbeat_period_s
    beats = int(3 * vendor.timeout_s / period_s) + 1  # three timeouts' worth of time
    for _ in range(beats):
        ticks.grant()
        await ticks.next_period()
        assert not sim.in_failsafe(), f"fell back after {clock.now()}"
    assert driver.last_error is None
    await driver.close()  # heartbeat gone: the box must really fall back
    clock.advance(vendor.timeout_s + 1)
    assert sim.in_failsafe()


async def test_busy_and_silent_boxes_are_retried(clock: FakeClock) -> None:
    vendor = BY_NAME["vestel_evc04"]
    async with SimulatedWallbox(vendor, clock) as sim:
        driver = ModbusCharger("wb", load_map(vendor.map_name), RANGE, clock, host="127.0.0.1",
                               port=sim.port, timeout_s=0.3, retries=2, retry_delay_s=0.0)
        async with driver:
            sim.fail_with = [6, 6]  # "device busy" twice, then it answers
            await driver.set_current_limit(10.0)
            assert sim.writes == [(6, 5004, [10])]
            sim.hang_next = 1  # one request gets no answer at all: retried, then answered
            assert await driver.decode_state() is ChargerState.AVAILABLE
            sim.release.set()


async def test_errors_name_the_register_and_the_box(clock: FakeClock) -> None:
    vendor = BY_NAME["vestel_evc04"]
    async with SimulatedWallbox(vendor, clock) as sim:
        driver = ModbusCharger("garage", load_map(vendor.map_name), RANGE, clock,
                               host="127.0.0.1", port=sim.port, timeout_s=0.3, retries=2,
                               retry_delay_s=0.0)
        async with driver:
            sim.fail_with = [2]  # illegal data address: not retried
            with pytest.raises(ChargerError, match=r"writing 16 to current \(holding 5004\)"
                                                   r" failed: Modbus exception 2 \(illegal"):
                await driver.set_current_limit(16.0)
            assert sim.fail_with == []
            sim.fail_with = [6, 6, 6]
            with pytest.raises(ChargerError, match="device busy"):
                await driver.set_current_limit(16.0)
            sim.ignore_writes_above = 10  # an installation limit inside the box
            with pytest.raises(ChargerError, match="wrote 16 A but current reads back 10 A"):
                await driver.set_current_limit(16.0)


async def test_a_current_the_register_cannot_hold_is_refused_before_writing(
        clock: FakeClock) -> None:
    vendor = BY_NAME["keba_p30"]  # mA in a UINT16: at most 65.535 A
    wide = CurrentRange(phases=3, voltage_v=230.0, min_current_a=6.0, max_current_a=80.0)
    async with SimulatedWallbox(vendor, clock) as sim:
        driver = ModbusCharger("garage", load_map(vendor.map_name), wide, clock,
                               host="127.0.0.1", port=sim.port, retry_delay_s=0.0)
        async with driver:
            with pytest.raises(ChargerError, match="70 does not fit current"):
                await driver.set_current_limit(70.0)
    assert sim.writes == []


async def test_an_unreachable_box_gives_a_clear_error(clock: FakeClock) -> None:
    driver = ModbusCharger("garage", load_map("vestel_evc04"), RANGE, clock, host="127.0.0.1",
                           port=free_port(), timeout_s=0.3, retry_delay_s=0.0)
    with pytest.raises(ChargerError, match=r"cannot connect to Modbus TCP 127\.0\.0\.1"):
        await driver.connect()


def test_an_unknown_or_broken_map_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no register map 'nope'.*available: abb_terra_ac"):
        load_map("nope")
    folder = tmp_path
    (folder / "bad.toml").write_text(
        '[device]\nvendor="x"\nmodel="y"\nunit_id=1\nsources=["z"]\n'
        '[registers.current]\ntable="input"\naddress=1\nwrite="single"\n'
        '[control]\ncurrent="current"\npause="zero_current"\n'
        '[status]\nrules=[{register="state", equals=[1], state="charging"}]\n'
    )
    with pytest.raises(ConfigError, match="only holding registers can be written"):
        load_map("bad", folder)


async def test_a_plan_is_followed_slot_by_slot(clock: FakeClock) -> None:
    """Modbus boxes hold no schedule: the follower writes each slot's current, once."""
    vendor = BY_NAME["keba_p30"]
    plan = make_plan(T0, [0.0, 11.04, 11.04, 4.14, 0.0])  # 16 A, 16 A, 6 A at 3 x 230 V
    async with SimulatedWallbox(vendor, clock) as sim:
        driver = ModbusCharger("wb", load_map(vendor.map_name), RANGE, clock, host="127.0.0.1",
                               port=sim.port, retry_delay_s=0.0)
        async with driver:
            follower = PlanFollower(driver, RANGE)
            assert isinstance(follower, ScheduleCharger)
            await follower.apply_plan(plan)
            applied = [await follower.tick(T0 + i * SLOT + timedelta(minutes=1))
                       for i in range(6)]
    assert applied == [0.0, 16.0, 16.0, 6.0, 0.0, 0.0]
    assert sim.writes == [
        (6, 5014, [0]),                      # slot 0: paused
        (6, 5004, [16000]), (6, 5014, [1]),  # slot 1: 16 A (slot 2 unchanged: nothing sent)
        (6, 5004, [6000]), (6, 5014, [1]),   # slot 3: 6 A
        (6, 5014, [0]),                      # slot 4 and after the plan: paused
    ]


async def test_a_failed_heartbeat_is_reported_and_the_next_one_recovers(
        clock: FakeClock) -> None:
    vendor = BY_NAME["schneider_evlink_pro"]
    async with SimulatedWallbox(vendor, clock) as sim:
        driver = ModbusCharger("wb", load_map(vendor.map_name), RANGE, clock, host="127.0.0.1",
                               port=sim.port, retries=0, retry_delay_s=0.0)
        async with driver:
            ticks = Ticks(clock)
            driver.start_heartbeat(ticks)
            await ticks.next_period()
            sim.fail_with = [4]  # "device failure" on the next lifebit write
            ticks.grant()
            await ticks.next_period()
            assert driver.last_error is not None
            assert "writing 1 to lifebit (holding 4000)" in driver.last_error
            ticks.grant()
            await ticks.next_period()
            assert driver.last_error is None
            assert sim.writes == [(6, 4000, [1])]  # the failed write never landed


async def test_a_box_that_restarts_is_reconnected_by_itself(clock: FakeClock) -> None:
    """A dropped TCP connection (the box rebooted) comes back on the next access."""
    vendor = BY_NAME["alfen_eve"]
    first = SimulatedWallbox(vendor, clock)
    driver = ModbusCharger("wb", load_map(vendor.map_name), RANGE, clock, host="127.0.0.1",
                           port=first.port, timeout_s=1.0, retries=3, retry_delay_s=0.0)
    async with first:
        await driver.connect()
        await driver.set_current_limit(6.0)
        assert first.writes == vendor.writes_6a
    second = SimulatedWallbox(vendor, clock)
    second.port = first.port  # the same box, back on its address after the reboot
    async with second:
        try:
            await driver.set_current_limit(16.0)
        finally:
            await driver.close()
        assert second.writes == vendor.writes_16a
