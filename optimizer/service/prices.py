"""The service's prices: the tariff (with its live feed and forecast), kept fresh by one task.

A tariff whose `[spot]` names a live feed is opened as `TariffPrices`: plans run on the known
prices plus the forecast past them (those slots flagged provisional), and `keep_fresh` fetches
on the publication schedule; when the known prices grow, every vehicle hears `PricesUpdated`
and a plugged one is re-planned on the real prices. A feed that is down never stops the
service: planning goes on with the cache and the forecast, and `GET /api/health` says so.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from optimizer.config import Config
from optimizer.ports import PriceSource
from optimizer.prices.live import FeedStatus
from optimizer.prices.refresher import keep_fresh
from optimizer.prices.source import TariffPrices
from optimizer.tariffs import Tariff, load_tariff

if TYPE_CHECKING:
    from optimizer.service.core import Service, ServiceClock

log = logging.getLogger(__name__)

RESTART_S = 60.0
"""After an unexpected error in the fetch loop, start it again this much later (service time)."""


def open_prices(config: Config) -> PriceSource:
    """The config's tariff; with a live feed, behind its cache in the state directory."""
    tariff = load_tariff(config.tariff)
    if tariff.feed_settings is None:
        return tariff
    return TariffPrices.open(tariff, config.tariff.parent, config.state_dir)


def prices_health(prices: PriceSource, now: datetime) -> dict[str, Any]:
    """What `GET /api/health` says about the prices: where they come from, how far they are
    known, and for a live feed when it answered last and whether it is failing now."""
    if isinstance(prices, Tariff):
        return {"source": "csv" if prices.spot_series is not None else "fixed",
                "known_until": _iso(prices.known_until), "stale": False}
    if not isinstance(prices, TariffPrices):
        return {"source": type(prices).__name__, "stale": False}
    out: dict[str, Any] = {"source": prices.source, "known_until": _iso(prices.known_until),
                           "stale": False}
    if prices.live is not None:
        status = prices.live.status(now)
        out |= {"stale": status.stale, "last_error": status.last_error,
                "failures": status.failures, "fetched_at": _iso(status.fetched_at),
                "next_fetch": _iso(status.next_fetch)}
    return out


async def keep_prices_fresh(service: Service, prices: TariffPrices, clock: ServiceClock
                            ) -> None:
    """The adapter task: `keep_fresh` on the service's clock, and once more after a crash."""
    settings = prices.tariff.feed_settings
    timeout_s = settings.timeout_s if settings is not None else 15.0

    async def sleep(seconds: float) -> None:  # service seconds, which may run faster
        await asyncio.sleep(clock.wall_seconds_until(clock.now() + timedelta(seconds=seconds)))

    async def on_update(status: FeedStatus) -> None:
        log.info("prices from %s known until %s: re-planning", status.feed,
                 _iso(status.known_until))
        service.prices_arrived(clock.now())

    async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=True) as client:
        while True:
            try:
                await keep_fresh(prices, client, clock, on_update, sleep)
                return
            except Exception:  # the feed's own failures are handled inside; this is a bug
                service.counters["price_feed_errors"] += 1
                log.exception("the price feed loop failed; starting it again")
                await sleep(RESTART_S)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None
