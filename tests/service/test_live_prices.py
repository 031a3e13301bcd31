"""Live prices in the service: a local aWATTar answering in its documented format, the
service on an accelerated clock. A plug-in before publication is planned on the forecast
(provisional), re-planned on the real prices once they are published, without a restart; a
feed answering 500 leaves the service running and its health saying the prices are stale."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from optimizer.service.clock import ScaledClock
from optimizer.session import Plugged, SocReport
from tests.prices import formats
from tests.prices.conftest import Provider, Reply
from tests.service.conftest import in_process

TZ = ZoneInfo("Europe/Berlin")


def live_tariff(workdir: Path, provider: Provider) -> Path:
    path = workdir / "live.toml"
    path.write_text('name = "aWATTar live"\nkind = "dynamic"\ncurrency = "EUR"\n'
                    'timezone = "Europe/Berlin"\nmarkup_per_kwh = 0\nvat_pct = 0\n'
                    'charges_per_kwh = 0\n[spot]\nsource = "awattar"\n'
                    f'base_url = "{provider.base_url}"\ntimeout_s = 2\n', encoding="utf-8")
    return path


async def until(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    """Wait for a condition the service reaches by itself (a fetch on its own schedule)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def api(started: Any, path: str) -> Any:
    token = started.token_file.read_text().strip()
    async with httpx.AsyncClient(base_url=started.api_url.removesuffix("/api")) as client:
        response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        return response.json()


async def plug_in(started: Any, at: datetime) -> None:
    service = started.service
    service.submit("iX1", SocReport(30.0, 29.5, 30.5, at))
    await service.submit_and_wait("iX1", Plugged("car"))


async def test_forecast_plan_is_re_made_on_published_prices(make_household: Any,
                                                            provider: Provider,
                                                            tmp_path: Path) -> None:
    day = datetime.now(TZ).date()
    start = datetime.combine(day, time(12, 30), tzinfo=TZ)  # before the 12:45 publication
    today = formats.local_day(start)
    tomorrow = formats.local_day(start + timedelta(days=1))
    history = today[0] - timedelta(days=28)
    provider.default = Reply(body=formats.awattar(history, today[1]))
    household = make_household(tariff=live_tariff(tmp_path, provider))
    clock = ScaledClock(start, 600.0, running=False)
    async with in_process(household, clock) as started:
        service = started.service
        await until(lambda: service.health()["prices"]["known_until"] == today[1].isoformat(),
                    "today's prices")
        await plug_in(started, start)
        [view] = await api(started, "/api/vehicles")
        plan = view["plan"]
        assert plan["feasible"] and plan["provisional"] is True
        assert "forecast" in plan["reason"]
        for slot in plan["slots"]:  # after today's last published price: the forecast
            forecast = datetime.fromisoformat(slot["start"]) >= today[1]
            assert slot.get("provisional", False) == forecast, slot
        assert any(s.get("provisional") for s in plan["slots"])
        first_version = view["plan_version"]

        # publication: tomorrow is cheap only from 04:00 to 06:00 UTC, unlike the forecast
        def published(at: datetime) -> float:
            if at < today[1]:
                return formats.price_for(at)
            return 5.0 if 4 <= at.hour < 6 else 300.0

        # the fetch at 12:45 fails; its retry, about 12:47, brings tomorrow
        provider.answer(Reply(status=500, body=b"busy"))
        provider.default = Reply(body=formats.awattar(history, tomorrow[1], price=published))
        changes = service.changes()
        clock.run()
        while True:
            snapshot = await asyncio.wait_for(anext(changes), 30)
            if snapshot[0]["plan"] is not None and not snapshot[0]["plan"]["provisional"]:
                break
        await changes.aclose()
        # re-planned when the prices came, not at the next slot boundary (13:00)
        current = service.fleet["iX1"].state.plan
        assert current is not None
        assert start + timedelta(minutes=15) < current.now < start + timedelta(minutes=30)
        [view] = await api(started, "/api/vehicles")
        plan = view["plan"]
        assert view["plan_version"] > first_version and "new prices" in view["plan_reason"]
        assert plan["feasible"] and plan["provisional"] is False
        assert not any(s.get("provisional") for s in plan["slots"])
        cheap = [s for s in plan["slots"] if s["price"] <= 0.005 + 1e-9]
        assert cheap and all(4 <= datetime.fromisoformat(s["start"]).astimezone(UTC).hour < 6
                             for s in cheap)
        health = (await api(started, "/api/health"))["prices"]
        assert health["source"] == "awattar" and health["stale"] is False
        assert datetime.fromisoformat(health["known_until"]) == tomorrow[1]


async def test_a_feed_answering_500_leaves_the_service_running_on_cache_and_forecast(
        make_household: Any, provider: Provider, tmp_path: Path) -> None:
    day = datetime.now(TZ).date()
    start = datetime.combine(day, time(13, 0), tzinfo=TZ)  # published, but the feed fails
    today = formats.local_day(start)
    history = today[0] - timedelta(days=28)
    provider.answer(Reply(body=formats.awattar(history, today[1])))
    provider.default = Reply(status=500, body=b"internal error")
    household = make_household(tariff=live_tariff(tmp_path, provider))
    clock = ScaledClock(start, 600.0)
    async with in_process(household, clock) as started:
        service = started.service
        await until(lambda: service.health()["prices"]["stale"], "the feed to fail")
        health = await api(started, "/api/health")
        assert health["status"] == "ok"
        prices = health["prices"]
        assert prices["stale"] is True and "500" in prices["last_error"]
        assert datetime.fromisoformat(prices["known_until"]) == today[1]
        await plug_in(started, clock.now())
        [view] = await api(started, "/api/vehicles")
        assert view["plugged"] and view["plan"]["feasible"] and view["plan"]["provisional"]
        count = len(provider.requests)
        await until(lambda: len(provider.requests) > count, "the feed to be asked again")
        assert (await api(started, "/api/health"))["prices"]["failures"] >= 2
