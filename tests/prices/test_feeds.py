"""Each feed against a local server answering in the provider's documented format."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from optimizer.prices.awattar import AwattarFeed
from optimizer.prices.energidataservice import EnergiDataServiceFeed
from optimizer.prices.energyzero import EnergyZeroFeed
from optimizer.prices.entsoe import EntsoeFeed
from optimizer.prices.feed import FeedError, fetch_intervals
from optimizer.prices.grid import PriceGrid, slot_index
from optimizer.prices.octopus import OctopusFeed
from optimizer.prices.tibber import TibberFeed
from tests.prices import formats
from tests.prices.conftest import Reply

SPRING = formats.local_day(datetime(2024, 3, 31))  # 23 hours in Berlin
AUTUMN = formats.local_day(datetime(2024, 10, 27))  # 25 hours
QUARTER = formats.local_day(datetime(2025, 10, 1))  # first 15-minute SDAC day
LONDON = ZoneInfo("Europe/London")


async def grid_of(feed, span) -> PriceGrid:
    async with httpx.AsyncClient(timeout=2.0) as client:
        return PriceGrid.from_intervals(await fetch_intervals(feed, client, *span))




async def test_entsoe_dst_day_hourly_with_a03_gaps_lands_on_92_slots(provider):
    provider.answer(Reply(body=formats.entsoe_a44([(*SPRING, 60)], skip=frozenset({5, 6})),
                          content_type="text/xml"))
    feed = EntsoeFeed("secret-token", "10Y1001A1001A82H", provider.base_url)
    grid = await grid_of(feed, SPRING)
    values = grid.window(slot_index(SPRING[0]), slot_index(SPRING[1]))
    assert len(values) == 92 and not any(math.isnan(v) for v in values)
    hour4 = SPRING[0] + timedelta(hours=3)
    # positions 5 and 6 are missing: they repeat position 4 (curve type A03)
    assert values[4 * 4] == values[5 * 4] == pytest.approx(formats.price_for(hour4) / 1000)
    assert values[0] == pytest.approx(formats.price_for(SPRING[0]) / 1000)
    query = provider.requests[0]["query"]
    assert query["securityToken"] == ["secret-token"] and query["documentType"] == ["A44"]
    assert query["in_Domain"] == query["out_Domain"] == ["10Y1001A1001A82H"]
    assert query["periodStart"] == ["202403302300"]


async def test_entsoe_quarter_hour_day_wins_over_the_hourly_series(provider):
    body = formats.entsoe_a44([(*QUARTER, 15), (*QUARTER, 60)])
    provider.answer(Reply(body=body, content_type="text/xml"))
    grid = await grid_of(EntsoeFeed("t", "10Y1001A1001A82H", provider.base_url), QUARTER)
    values = grid.window(slot_index(QUARTER[0]), slot_index(QUARTER[1]))
    expected = [formats.price_for(QUARTER[0] + timedelta(minutes=15 * i)) / 1000
                for i in range(96)]
    assert values.tolist() == pytest.approx(expected)


async def test_entsoe_no_matching_data_is_an_empty_answer_not_an_error(provider):
    provider.answer(Reply(status=400, body=formats.ENTSOE_NO_DATA, content_type="text/xml"))
    grid = await grid_of(EntsoeFeed("t", "10Y1001A1001A82H", provider.base_url), SPRING)
    assert len(grid) == 0


async def test_awattar_autumn_dst_day_has_100_slots(provider):
    provider.answer(Reply(body=formats.awattar(*AUTUMN)))
    grid = await grid_of(AwattarFeed("de", provider.base_url), AUTUMN)
    values = grid.window(slot_index(AUTUMN[0]), slot_index(AUTUMN[1]))
    assert len(values) == 100 and not any(math.isnan(v) for v in values)
    assert values[-1] == pytest.approx(formats.price_for(AUTUMN[1] - timedelta(hours=1)) / 1000)
    assert provider.requests[0]["path"] == "/marketdata"
    assert provider.requests[0]["query"]["start"] == [str(int(AUTUMN[0].timestamp() * 1000))]


async def test_tibber_quarter_hourly_today_and_tomorrow_with_local_offsets(provider):
    provider.answer(Reply(body=formats.tibber(AUTUMN, formats.local_day(datetime(2024, 10, 28)))))
    feed = TibberFeed("tibber-token", base_url=provider.base_url)
    tomorrow = formats.local_day(datetime(2024, 10, 28))
    grid = await grid_of(feed, (AUTUMN[0], tomorrow[1]))
    assert len(grid) == 100 + 96
    at = AUTUMN[0] + timedelta(hours=2, minutes=45)
    assert grid.window(slot_index(at), slot_index(at) + 1)[0] == pytest.approx(
        formats.price_for(at) / 1000 + 0.2)
    request = provider.requests[0]
    assert request["method"] == "POST"
    assert request["headers"]["Authorization"] == "Bearer tibber-token"
    assert "QUARTER_HOURLY" in json.loads(request["body"])["query"]


async def test_tibber_graphql_errors_are_feed_errors(provider):
    provider.answer(Reply(body=b'{"errors": [{"message": "invalid token"}], "data": null}'))
    with pytest.raises(FeedError, match="invalid token"):
        await grid_of(TibberFeed("x", base_url=provider.base_url), AUTUMN)


async def test_octopus_agile_half_hours_newest_first_over_two_pages(provider):
    day = (datetime(2024, 3, 30, 23, tzinfo=UTC), datetime(2024, 3, 31, 22, tzinfo=UTC))
    middle = day[0] + timedelta(hours=11)
    provider.answer(
        Reply(body=formats.octopus(middle, day[1], next_url=f"{provider.base_url}/page2")),
        Reply(body=formats.octopus(day[0], middle)),
    )
    feed = OctopusFeed("AGILE-24-10-01", "A", base_url=provider.base_url)
    grid = await grid_of(feed, day)
    values = grid.window(slot_index(day[0]), slot_index(day[1]))
    assert len(values) == 23 * 4 and not any(math.isnan(v) for v in values)
    assert values[1] == pytest.approx(formats.price_for(day[0]) / 1000)  # p/kWh -> GBP/kWh
    assert provider.requests[0]["path"] == (
        "/products/AGILE-24-10-01/electricity-tariffs/E-1R-AGILE-24-10-01-A/standard-unit-rates/")
    assert provider.requests[1]["path"] == "/page2"


async def test_energidataservice_15_minute_day_ahead_for_one_area(provider):
    provider.answer(Reply(body=formats.energidataservice(*QUARTER)))
    grid = await grid_of(EnergiDataServiceFeed("DK1", base_url=provider.base_url), QUARTER)
    values = grid.window(slot_index(QUARTER[0]), slot_index(QUARTER[1]))
    assert values.tolist() == pytest.approx(
        [formats.price_for(QUARTER[0] + timedelta(minutes=15 * i)) / 1000 for i in range(96)])
    assert json.loads(provider.requests[0]["query"]["filter"][0]) == {"PriceArea": ["DK1"]}


async def test_energidataservice_hourly_elspot_on_a_dst_day(provider):
    provider.answer(Reply(body=formats.energidataservice(*SPRING, dataset="Elspotprices")))
    feed = EnergiDataServiceFeed("DK1", "Elspotprices", base_url=provider.base_url)
    grid = await grid_of(feed, SPRING)
    assert len(grid.window(slot_index(SPRING[0]), slot_index(SPRING[1]))) == 92
    assert not any(math.isnan(v) for v in grid.values)


async def test_energyzero_hourly_dst_day(provider):
    provider.answer(Reply(body=formats.energyzero(*SPRING)))
    grid = await grid_of(EnergyZeroFeed(base_url=provider.base_url), SPRING)
    assert len(grid) == 92 and not any(math.isnan(v) for v in grid.values)
    assert provider.requests[0]["query"]["inclBtw"] == ["false"]


async def test_energyzero_quarter_hours_are_quarter_hours(provider):
    provider.answer(Reply(body=formats.energyzero(*QUARTER, minutes=15)))
    grid = await grid_of(EnergyZeroFeed(base_url=provider.base_url), QUARTER)
    assert len(grid) == 96
    assert grid.values[1] == pytest.approx(
        formats.price_for(QUARTER[0] + timedelta(minutes=15)) / 1000)


async def test_awattar_quarter_hour_day(provider):
    provider.answer(Reply(body=formats.awattar(*QUARTER, minutes=15)))
    grid = await grid_of(AwattarFeed("at", provider.base_url), QUARTER)
    assert len(grid) == 96
    assert grid.values.tolist() == pytest.approx(
        [formats.price_for(QUARTER[0] + timedelta(minutes=15 * i)) / 1000 for i in range(96)])


async def test_tibber_hourly_spring_dst_day(provider):
    provider.answer(Reply(body=formats.tibber(SPRING, None, minutes=60)))
    grid = await grid_of(TibberFeed("t", resolution="HOURLY", base_url=provider.base_url), SPRING)
    assert len(grid) == 92 and not any(math.isnan(v) for v in grid.values)
    assert "HOURLY" in json.loads(provider.requests[0]["body"])["query"]


@pytest.mark.parametrize(("day", "slots"), [(datetime(2024, 3, 31), 92),
                                            (datetime(2024, 10, 27), 100)])
async def test_octopus_uk_dst_days(provider, day, slots):
    span = formats.local_day(day, LONDON)
    provider.answer(Reply(body=formats.octopus(*span)))
    grid = await grid_of(OctopusFeed("AGILE-24-10-01", "C", base_url=provider.base_url), span)
    values = grid.window(slot_index(span[0]), slot_index(span[1]))
    assert len(values) == slots and not any(math.isnan(v) for v in values)


async def test_entsoe_autumn_dst_day_has_100_slots(provider):
    provider.answer(Reply(body=formats.entsoe_a44([(*AUTUMN, 60)]), content_type="text/xml"))
    grid = await grid_of(EntsoeFeed("t", "10Y1001A1001A82H", provider.base_url), AUTUMN)
    assert len(grid.window(slot_index(AUTUMN[0]), slot_index(AUTUMN[1]))) == 100
    assert not any(math.isnan(v) for v in grid.values)
