"""The dashboard of the real service (`ev-optimizer run` as a subprocess, against the CarData
simulator and an `ocpp`-library station), in Debian's headless Chromium: after a plug-in a
person sees the plan's slots, the SoC and the cost the API reports. Screenshots at desktop and
phone width are saved as artefacts (`service-dashboard-*.png`)."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Page, async_playwright, expect

from optimizer.service.clock import WallClock
from optimizer.sim.broker import free_port
from optimizer.sim.scenario import spot_tariff
from optimizer.sim.world import ChargingWorld
from tests.service.conftest import make_household, start_process, wait_api  # noqa: F401
from tests.web.conftest import ARTEFACTS, CHROMIUM, CHROMIUM_FLAGS
from tests.web.test_dashboard import DESKTOP, PHONE

TZ = ZoneInfo("Europe/Berlin")


def hm(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(TZ).strftime("%H:%M")


async def planned_vehicle(base: str, token: str, timeout_s: float = 10.0) -> dict[str, Any]:
    """The vehicle once the service shows a plan with charging in it (polled over HTTP: the
    service is another process)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=base,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        while True:
            [view] = (await client.get("/api/vehicles")).json()
            if view["plan"] is not None and view["plan"]["slots"]:
                assert isinstance(view, dict)
                return view
            if time.monotonic() > deadline:
                raise AssertionError(f"no plan within {timeout_s} s: {view}")
            await asyncio.sleep(0.05)


async def log_in(page: Page, base: str, token: str) -> None:
    await page.goto(base + "/")
    await expect(page).to_have_url(base + "/login")
    await page.fill("#token", token)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(base + "/")


async def test_the_real_service_shows_its_plan_soc_and_cost_in_chromium(
        make_household: Any, tmp_path: Any) -> None:  # noqa: F811
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing; install Debian's chromium (.ci/run does)")
    now = datetime.now(UTC)
    cheap_from = (now + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    departure = (now + timedelta(hours=9)).astimezone(TZ)
    household = make_household(tariff=spot_tariff(tmp_path, cheap_from, cheap_hours=4),
                               http_port=free_port(), departure=f"{departure:%H:%M}")
    process = start_process(household)
    clock = WallClock()
    try:
        base, token = await wait_api(household, process)
        station, station_task = await household.station(clock)
        await station.send_status("Available")
        await household.stream_subscribed()
        car = household.sim.vehicles[household.config.vehicles[0].vin]
        world = ChargingWorld(household.sim, car, station, clock)
        await world.publish(car.arrive(clock.now()))
        await world.publish(car.plug_in(clock.now()))
        view = await planned_vehicle(base, token)
        plan, slots = view["plan"], view["plan"]["slots"]
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                       args=CHROMIUM_FLAGS)
            for name, options in (("desktop", DESKTOP), ("phone", PHONE)):
                context = await browser.new_context(timezone_id="Europe/Berlin",
                                                    locale="en-GB", **options)
                page = await context.new_page()
                await log_in(page, base, token)
                box = page.locator('section[data-vehicle="iX1"]')
                await expect(box.get_by_test_id("soc")).to_have_text(
                    f"{view['soc_pct']:.0f} %")
                await expect(box.get_by_test_id("cost")).to_have_text(f"{plan['cost']:.2f} EUR")
                await expect(box.get_by_test_id("plan-window")).to_have_text(
                    f"{hm(slots[0]['start'])}–{hm(slots[-1]['end'])}")
                await expect(box.get_by_test_id("saving")).to_have_text(
                    f"saves {view['expected_saving']:.2f} EUR against charging at once")
                await expect(box.locator("rect.slot")).to_have_count(len(slots))
                starts = await box.locator("rect.slot").evaluate_all(
                    "els => els.map(e => e.dataset.start)")
                assert starts == [slot["start"] for slot in slots]
                await expect(box.get_by_test_id("at-departure")).to_have_text(
                    f"{plan['soc_at_departure_pct']:.0f} %")
                await expect(box.get_by_test_id("plugged")).to_have_text("plugged in")
                ARTEFACTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(ARTEFACTS / f"service-dashboard-{name}.png"),
                                      full_page=True)
                await context.close()  # its event stream closes before the service stops
            await browser.close()
        station_task.cancel()
    finally:
        if process.popen.poll() is None:
            process.popen.terminate()
            await asyncio.to_thread(process.popen.wait, 10)
    assert "Traceback" not in process.output()
