"""The dashboard of the real service (`ev-optimizer run` as a subprocess, against the CarData
simulator and an `ocpp`-library station), in Debian's headless Chromium: after a plug-in a
person sees the plan's slots, the SoC and the cost the API reports. Screenshots at desktop and
phone width are saved as artefacts (`service-dashboard-*.png`)."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page, async_playwright, expect

from optimizer.service.clock import WallClock
from tests.service.conftest import (  # noqa: F401 (make_household: a fixture)
    evening,
    make_household,
    plug_in,
    start_process,
    until_vehicle,
    wait_api,
)
from tests.web.conftest import ARTEFACTS, CHROMIUM, CHROMIUM_FLAGS
from tests.web.test_dashboard import DESKTOP, PHONE

TZ = ZoneInfo("Europe/Berlin")


def hm(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(TZ).strftime("%H:%M")


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
    household, _ = evening(make_household, tmp_path)
    process = start_process(household)
    clock = WallClock()
    try:
        base, token = await wait_api(household, process)
        plugged = await plug_in(household, clock)
        view = await until_vehicle(base, token, lambda v: bool(v["plan"] and v["plan"]["slots"]),
                                   10)
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
        plugged.station_task.cancel()
    finally:
        if process.popen.poll() is None:
            process.popen.terminate()
            await asyncio.to_thread(process.popen.wait, 10)
    assert "Traceback" not in process.output()
