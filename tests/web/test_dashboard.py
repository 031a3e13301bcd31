"""The dashboard in Debian's Chromium: what a person sees (slots, SoC, cost), controls that
change it, the login flow and its cookie, the one-time link, no external URL, and
screenshots at desktop and phone width (saved as artefacts)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from bench.planning_facade import Car, PlanningFacade
from tests.web.conftest import ARTEFACTS, TOKEN, Server, serve

TZ = ZoneInfo("Europe/Berlin")
DESKTOP = {"viewport": {"width": 1280, "height": 1000}}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}


def hm(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(TZ).strftime("%H:%M")


@pytest.fixture
def context(browser: Browser, server: Server) -> Iterator[BrowserContext]:
    """Closed before the server stops (it depends on it), so no event stream is left open."""
    ctx = browser.new_context(timezone_id="Europe/Berlin", locale="en-GB", **DESKTOP)
    yield ctx
    ctx.close()


def log_in(page: Page, server: Server, token: str = TOKEN) -> None:
    page.goto(server.url + "/")
    expect(page).to_have_url(server.url + "/login")
    page.fill("#token", token)
    page.click("button[type=submit]")


def card(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.locator(f'section[data-vehicle="{name}"]')


def test_login_sets_an_httponly_strict_cookie(context: BrowserContext, server: Server) -> None:
    page = context.new_page()
    log_in(page, server, "not-the-token")
    expect(page.get_by_role("alert")).to_contain_text("not the API token")
    assert context.cookies() == []
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    expect(page).to_have_url(server.url + "/")
    expect(page.get_by_test_id("live")).to_have_text("live")
    (cookie,) = context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert TOKEN not in cookie["value"]
    assert page.evaluate("document.cookie") == ""  # page scripts cannot read it
    # the same cookie opens the API routes the page calls; without it they answer 401
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/api/vehicles").status_code == 401
        assert http.get("/dashboard/events").status_code == 401
        assert http.get("/dashboard/session").status_code == 401
        shell = http.get("/")  # the page itself holds no data: served, then sends to /login
        assert shell.status_code == 200 and 'id="vehicles"' in shell.text
        assert "iX1" not in shell.text
        http.cookies.set(cookie["name"], cookie["value"])
        assert http.get("/api/vehicles").status_code == 200
        http.cookies.clear()
        assert http.get("/api/vehicles", headers={"Authorization": f"Bearer {TOKEN}"}
                        ).status_code == 200
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(server.url + "/login")
    page.goto(server.url + "/")
    expect(page).to_have_url(server.url + "/login")
    # a cookie from before the token was replaced is no login either
    context.add_cookies([{"name": cookie["name"], "value": "0" * 64, "url": server.url}])
    page.goto(server.url + "/")
    expect(page).to_have_url(server.url + "/login")


def test_a_login_link_works_once(browser: Browser, server: Server) -> None:
    link = server.codes.link(server.url)
    first = browser.new_context()
    page = first.new_page()
    page.goto(link)
    expect(page).to_have_url(server.url + "/")
    expect(card(page, "iX1")).to_be_visible()
    second = browser.new_context()
    again = second.new_page()
    response = again.goto(link)
    assert response is not None and response.status == 401
    expect(again.get_by_role("alert")).to_contain_text("used already")
    first.close()
    second.close()


def test_what_a_person_sees_is_the_plan(context: BrowserContext, server: Server) -> None:
    page = context.new_page()
    log_in(page, server)
    ix1 = server.facade.vehicles()[0]
    plan = ix1["plan"]
    slots = plan["slots"]
    box = card(page, "iX1")
    expect(box.get_by_test_id("soc")).to_have_text("34 %")
    expect(box.get_by_test_id("band")).to_have_text("likely 31–37 %")
    expect(box.get_by_test_id("plan-window")).to_have_text(
        f"{hm(slots[0]['start'])}–{hm(slots[-1]['end'])}")
    expect(box.get_by_test_id("cost")).to_have_text(f"{plan['cost']:.2f} EUR")
    expect(box.get_by_test_id("saving")).to_have_text(
        f"saves {ix1['expected_saving']:.2f} EUR against charging at once")
    expect(box.get_by_test_id("at-departure")).to_have_text("80 %")
    expect(box.locator("rect.slot")).to_have_count(len(slots))
    starts = box.locator("rect.slot").evaluate_all("els => els.map(e => e.dataset.start)")
    assert starts == [slot["start"] for slot in slots]
    expect(box.get_by_test_id("slots")).to_contain_text(
        f"{hm(slots[0]['start'])}–{hm(slots[0]['end'])}")
    expect(box.get_by_test_id("soc-line")).to_have_count(1)
    expect(box.get_by_test_id("plugged")).to_have_text("plugged in")
    # the session under way is listed, but only the two that ended count in the total
    expect(page.get_by_test_id("total-saved")).to_have_text(
        "Saved so far: 3.04 EUR in 2 ended sessions (1 under way)")
    rows = page.get_by_test_id("sessions").locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("open")


def test_controls_change_what_is_shown(context: BrowserContext, server: Server) -> None:
    page = context.new_page()
    log_in(page, server)
    box = card(page, "iX1")
    before = box.get_by_test_id("cost").inner_text()
    box.locator("input[name=target]").fill("60")
    box.get_by_test_id("set").click()
    expect(box.get_by_test_id("at-departure")).to_have_text("60 %")  # live, through SSE
    expect(box.get_by_test_id("cost")).not_to_have_text(before)
    assert server.facade.cars["iX1"].target_soc_pct == 60
    box.locator("input[name=departure]").fill("2024-03-06T04:00")
    box.get_by_test_id("set").click()
    expect(box.get_by_test_id("at-departure").locator("..")).to_contain_text("At departure 04:00")
    assert server.facade.cars["iX1"].departure == datetime(2024, 3, 6, 4, 0, tzinfo=TZ)
    boost = box.get_by_test_id("boost")
    expect(boost).to_have_attribute("aria-pressed", "false")
    boost.click()
    expect(boost).to_have_attribute("aria-pressed", "true")
    smart = box.get_by_test_id("smart")
    smart.click()
    expect(smart).to_have_attribute("aria-pressed", "false")
    assert server.facade.cars["iX1"].boost and not server.facade.cars["iX1"].smart
    box.locator("input[name=departure]").fill("2024-03-05T10:00")  # before now
    box.get_by_test_id("set").click()
    expect(box.get_by_test_id("status")).to_have_text("refused: departure is in the past")


def test_the_page_loads_nothing_from_elsewhere(context: BrowserContext, server: Server) -> None:
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    log_in(page, server)
    expect(card(page, "Cooper SE").get_by_test_id("soc")).to_have_text("52 %")
    assert requested and all(url.startswith(server.url) or url.startswith("data:")
                             for url in requested), requested
    (cookie,) = context.cookies()
    with httpx.Client(base_url=server.url, cookies={cookie["name"]: cookie["value"]}) as http:
        for path in ("/", "/login", "/dashboard/app.js", "/dashboard/app.css"):
            text = http.get(path).text
            assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), path


@pytest.mark.parametrize("name, options", [("desktop", DESKTOP), ("phone", PHONE)])
def test_screenshots_at_desktop_and_phone_width(browser: Browser, server: Server, name: str,
                                                options: dict[str, object]) -> None:
    ctx = browser.new_context(timezone_id="Europe/Berlin", locale="en-GB", **options)
    page = ctx.new_page()
    log_in(page, server)
    expect(card(page, "iX1").get_by_test_id("cost")).to_contain_text("EUR")
    expect(page.get_by_test_id("sessions").locator("tbody tr")).to_have_count(
        len(server.facade.sessions()))
    # readable on a phone: nothing wider than the screen, the text not shrunk
    width = options["viewport"]["width"]  # type: ignore[index]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # the session table too: all its columns in view, none scrolled out of its box
    assert page.evaluate("(() => { const w = document.querySelector('.table-wrap');"
                         " return w.scrollWidth <= w.clientWidth; })()")
    size = page.get_by_test_id("soc").first.evaluate(
        "e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 16
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"dashboard-{name}.png"), full_page=True)
    ctx.close()


def test_the_contract_keys_alone_are_enough(browser: Browser) -> None:
    """Without the service's extras (prices, saving, smart/boost) the page still shows the
    plan: its slots, the SoC and the cost."""
    facade = PlanningFacade([Car("iX1", "WBA00000000000001")], contract_only=True)
    with serve(facade) as running:
        ctx = browser.new_context(timezone_id="Europe/Berlin", locale="en-GB", **DESKTOP)
        page = ctx.new_page()
        log_in(page, running)
        plan = facade.vehicles()[0]["plan"]
        box = card(page, "iX1")
        expect(box.get_by_test_id("soc")).to_have_text("34 %")
        expect(box.get_by_test_id("cost")).to_have_text(f"{plan['cost']:.2f} EUR")
        expect(box.get_by_test_id("saving")).to_have_text("")
        expect(box.locator("rect.slot")).to_have_count(len(plan["slots"]))
        expect(box.locator("path.price")).to_have_count(0)
        ctx.close()
