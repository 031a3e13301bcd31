"""The fetch loop on an injected clock against a local aWATTar: it waits for publication,
retries with backoff until tomorrow is there, reports the new prices once, then waits a day."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from optimizer.prices.live import FeedStatus
from optimizer.prices.refresher import keep_fresh
from optimizer.prices.source import TariffPrices
from optimizer.tariffs import load_tariff
from tests.prices import formats
from tests.prices.conftest import Reply

BERLIN = ZoneInfo("Europe/Berlin")


class FakeClock:
    def __init__(self, at: datetime) -> None:
        self.at = at
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += timedelta(seconds=seconds)


async def test_waits_for_publication_backs_off_then_reports_tomorrow(provider, tmp_path):
    today = formats.local_day(datetime(2024, 6, 3))
    tomorrow = formats.local_day(datetime(2024, 6, 4))
    history = formats.local_day(datetime(2024, 5, 6))[0]
    provider.answer(
        Reply(body=formats.awattar(history, today[1])),  # 09:00: today is known
        Reply(body=formats.awattar(history, today[1])),  # 12:45: tomorrow not out yet
        Reply(status=503, body=b"busy"),                  # retry: provider down
        Reply(body=formats.awattar(history, tomorrow[1])),  # next retry: tomorrow is there
    )
    tariff_file = tmp_path / "t.toml"
    tariff_file.write_text('name = "a"\nkind = "dynamic"\n[spot]\nsource = "awattar"\n'
                           f'base_url = "{provider.base_url}"\n')
    prices = TariffPrices.open(load_tariff(tariff_file), tmp_path, tmp_path / "state")
    clock = FakeClock(datetime(2024, 6, 3, 9, 0, tzinfo=BERLIN))
    updates: list[FeedStatus] = []

    async def on_update(status: FeedStatus) -> None:
        updates.append(status)

    async with httpx.AsyncClient(timeout=2) as client:
        await keep_fresh(prices, client, clock, on_update, clock.sleep, rounds=8)
    assert len(provider.requests) == 4
    assert [u.known_until for u in updates] == [today[1], tomorrow[1]]
    # 09:00 fetch; wake hourly (nothing due) until 12:45; then backoff 2 min, 4 min (with 10 %
    # jitter) until tomorrow is there; then wait for the next publication, hourly.
    assert clock.slept[:4] == [3600.0, 3600.0, 3600.0, 2700.0]
    assert 108 <= clock.slept[4] <= 132 and 216 <= clock.slept[5] <= 264
    status = prices.live.status(clock.now()) if prices.live else None
    assert status is not None and not status.stale
    assert status.next_fetch == datetime(2024, 6, 4, 12, 45, tzinfo=BERLIN)
