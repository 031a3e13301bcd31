"""A live feed behind its cache: fetch when the schedule says so, never lose the last good prices.

`LivePrices.refresh(client, now)` is the only method that does I/O. A feed that is down, slow
or answers garbage leaves the cache as it was, counts the failure (the schedule backs off) and
records why, so `status` can say "planning on the cache plus the forecast since …". Nothing it
does raises on a feed's failure: the service keeps planning.

`price_slots` gives the cached spot prices (None past them); `optimizer.prices.source` puts
the tariff's formula and the forecast on top.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from optimizer.model import PriceSlot
from optimizer.prices.cache import CachedPrices, load_cache, save_cache
from optimizer.prices.feed import Feed, FeedError, fetch_intervals
from optimizer.prices.grid import PriceGrid
from optimizer.prices.schedule import FetchSchedule

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)
HISTORY_DAYS = 28


@dataclass(frozen=True, slots=True)
class FeedStatus:
    feed: str
    fetched_at: datetime | None
    known_until: datetime | None
    next_fetch: datetime
    failures: int
    last_error: str | None

    @property
    def stale(self) -> bool:
        """The last attempt failed: plans run on the cache and the forecast."""
        return self.failures > 0


class LivePrices:
    def __init__(self, feed: Feed, cache_file: Path, tz: ZoneInfo,
                 schedule: FetchSchedule | None = None) -> None:
        self.feed = feed
        self.cache_file = cache_file
        self.tz = tz
        self.schedule = schedule or FetchSchedule()
        self.cache: CachedPrices = load_cache(cache_file)

    @property
    def known_until(self) -> datetime | None:
        return self.cache.grid.known_end()

    def due(self, now: datetime) -> bool:
        return self.next_fetch(now) <= now

    def next_fetch(self, now: datetime) -> datetime:
        if self.cache.last_attempt is None:
            return now
        planned = self.schedule.next_fetch(
            self.cache.last_attempt, self.known_until, self.cache.retries
        )
        return max(planned, self.cache.last_attempt)

    def status(self, now: datetime) -> FeedStatus:
        return FeedStatus(self.feed.name, self.cache.fetched_at, self.known_until,
                          self.next_fetch(now), self.cache.failures, self.cache.last_error)

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """What to ask for: tomorrow's end, from four weeks back when the cache is short of
        history (the forecast needs it), else from the start of yesterday."""
        end = self.schedule.publication.known_until(now) + timedelta(days=1)
        have = self.cache.grid.start if len(self.cache.grid) else now
        days_back = HISTORY_DAYS if have > now - timedelta(days=HISTORY_DAYS - 1) else 1
        local_midnight = datetime.combine(now.astimezone(self.tz).date(), datetime.min.time(),
                                          tzinfo=self.tz)
        return (local_midnight - timedelta(days=days_back)).astimezone(UTC), end

    async def refresh(self, client: httpx.AsyncClient, now: datetime) -> FeedStatus:
        """Fetch once and merge; on any failure keep the cache and count the failure."""
        start, end = self.window(now)
        try:
            intervals = await fetch_intervals(self.feed, client, start, end)
            fresh = PriceGrid.from_intervals(intervals)
        except FeedError as exc:
            log.warning("%s (keeping the cached prices, %s)", exc, self._cached_span())
            self.cache = replace(self.cache, failures=self.cache.failures + 1,
                                 last_error=str(exc), last_attempt=now,
                                 retries=self.cache.retries + 1)
        else:
            merged = self.cache.grid.merged(fresh)
            known = merged.known_end()
            complete = known is not None and known >= self.schedule.publication.known_until(now)
            retries = 0 if complete else self.cache.retries + 1
            self.cache = CachedPrices(merged, now, 0, None, now, retries).trimmed(now)
        try:
            save_cache(self.cache_file, self.cache)
        except OSError as exc:  # a full disk must not stop planning on what is in memory
            log.warning("cannot save the price cache %s: %s", self.cache_file, exc.strerror)
        return self.status(now)

    def _cached_span(self) -> str:
        end = self.known_until
        return f"known until {end.isoformat()}" if end is not None else "none known"

    # ------------------------------------------------------------------ PriceSource

    def price_slots(self, start: datetime, end: datetime) -> list[PriceSlot]:
        return self.cache.grid.price_slots(start, end)
