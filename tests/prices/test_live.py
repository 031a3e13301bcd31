"""A feed that fails (HTTP 500, a timeout, a malformed body) never crashes the caller and never
loses the last good prices; the cache keeps its fetch time; the schedule fits publication."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest

from optimizer.prices.awattar import AwattarFeed
from optimizer.prices.cache import load_cache
from optimizer.prices.energidataservice import EnergiDataServiceFeed
from optimizer.prices.energyzero import EnergyZeroFeed
from optimizer.prices.entsoe import EntsoeFeed
from optimizer.prices.live import LivePrices
from optimizer.prices.octopus import OctopusFeed
from optimizer.prices.schedule import FetchSchedule, Publication
from optimizer.prices.source import TariffPrices
from optimizer.prices.tibber import TibberFeed
from optimizer.tariffs import load_tariff
from tests.prices import formats
from tests.prices.conftest import Reply

BERLIN = ZoneInfo("Europe/Berlin")
DAY = formats.local_day(datetime(2024, 3, 31))
NOW = datetime(2024, 3, 31, 10, 0, tzinfo=BERLIN)

FEEDS = {
    "entsoe": (lambda url: EntsoeFeed("t", "10Y1001A1001A82H", url),
               lambda: formats.entsoe_a44([(*DAY, 60)])),
    "awattar": (lambda url: AwattarFeed("de", url), lambda: formats.awattar(*DAY)),
    "tibber": (lambda url: TibberFeed("t", base_url=url), lambda: formats.tibber(DAY, None)),
    "octopus": (lambda url: OctopusFeed("AGILE-24-10-01", "A", base_url=url),
                lambda: formats.octopus(*DAY)),
    "energidataservice": (lambda url: EnergiDataServiceFeed("DK1", base_url=url),
                          lambda: formats.energidataservice(*DAY)),
    "energyzero": (lambda url: EnergyZeroFeed(base_url=url), lambda: formats.energyzero(*DAY)),
}
FAILURES = {
    "http 500": Reply(status=500, body=b"Internal Server Error", content_type="text/plain"),
    "timeout": Reply(delay_s=1.5, body=b"{}"),
    "malformed": Reply(body=b'{"unexpected": [1, 2'),
    "wrong shape": Reply(body=b'{"data": {"something": "else"}, "records": 5, "Prices": 1}'),
}


@pytest.mark.parametrize("failure", list(FAILURES))
@pytest.mark.parametrize("name", list(FEEDS))
async def test_a_failing_feed_keeps_the_last_good_prices(provider, tmp_path, name, failure):
    make_feed, good_body = FEEDS[name]
    cache_file = tmp_path / "state" / f"prices_{name}.json"
    live = LivePrices(make_feed(provider.base_url), cache_file, BERLIN)
    provider.answer(Reply(body=good_body()), FAILURES[failure])
    async with httpx.AsyncClient(timeout=0.5) as client:
        first = await live.refresh(client, NOW)
        assert first.failures == 0 and first.fetched_at == NOW
        before = live.price_slots(*DAY)
        later = NOW + timedelta(minutes=5)
        status = await live.refresh(client, later)
    assert status.stale and status.failures == 1 and name in (status.last_error or "")
    assert status.fetched_at == NOW  # the fetch time of the prices we still have
    assert live.price_slots(*DAY) == before
    assert sum(s.price is not None for s in before) == 92
    on_disk = load_cache(cache_file)  # a restart finds the same prices and the failure count
    assert on_disk.fetched_at == NOW and on_disk.failures == 1
    assert np.array_equal(on_disk.grid.values, live.cache.grid.values, equal_nan=True)
    assert cache_file.stat().st_mode & 0o077 == 0


async def test_connection_refused_is_survived_too(tmp_path):
    live = LivePrices(AwattarFeed("de", "http://127.0.0.1:9"), tmp_path / "c.json", BERLIN)
    async with httpx.AsyncClient(timeout=0.5) as client:
        status = await live.refresh(client, NOW)
    assert status.stale and "cannot reach" in (status.last_error or "")
    assert status.next_fetch > NOW  # backs off instead of hammering


async def test_forecast_fills_the_slots_past_the_cache_and_says_where_it_starts(provider, tmp_path):
    days = [formats.local_day(datetime(2024, 3, 1) + timedelta(days=d)) for d in range(30)]
    provider.answer(Reply(body=formats.awattar(days[0][0], days[-1][1])))
    tariff_file = tmp_path / "t.toml"
    tariff_file.write_text('name = "a"\nkind = "dynamic"\nvat_pct = 10\n[spot]\n'
                           f'source = "awattar"\nbase_url = "{provider.base_url}"\n')
    prices = TariffPrices.open(load_tariff(tariff_file), tmp_path, tmp_path / "state")
    now = days[-1][0] + timedelta(hours=14)
    async with httpx.AsyncClient(timeout=2) as client:
        status = await prices.refresh(client, now)
    assert status is not None and not status.stale
    assert prices.known_until == days[-1][1]
    horizon = days[-1][1] + timedelta(hours=12)
    slots, forecast_from = prices.planning_slots(now, horizon)
    assert forecast_from == days[-1][1]
    assert all(s.price is not None and math.isfinite(s.price) for s in slots)
    known = [s for s in slots if s.start < forecast_from]
    spot = formats.price_for(known[0].start) / 1000
    assert known[0].price == pytest.approx(spot * 1.10)
    assert prices.price_slots(now, horizon)[-1].price is None  # the PriceSource stays honest


def test_schedule_waits_for_publication_then_retries_with_backoff_until_tomorrow_is_there():
    schedule = FetchSchedule(Publication())
    morning = datetime(2024, 6, 3, 9, 0, tzinfo=BERLIN)
    end_of_today = datetime(2024, 6, 4, tzinfo=BERLIN)
    end_of_tomorrow = datetime(2024, 6, 5, tzinfo=BERLIN)
    assert schedule.next_fetch(morning, end_of_today, 0) == datetime(
        2024, 6, 3, 12, 45, tzinfo=BERLIN)
    afternoon = datetime(2024, 6, 3, 13, 0, tzinfo=BERLIN)
    rng = random.Random(1)
    delays = [schedule.next_fetch(afternoon, end_of_today, n, rng) - afternoon
              for n in range(1, 8)]
    assert delays[0] < delays[1] < delays[2] and max(delays) <= timedelta(minutes=33)
    assert schedule.next_fetch(afternoon, end_of_tomorrow, 0) == datetime(
        2024, 6, 4, 12, 45, tzinfo=BERLIN)
    assert schedule.next_fetch(afternoon, None, 0) == afternoon
