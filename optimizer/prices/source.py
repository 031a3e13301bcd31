"""A tariff's prices as the service plans on them: known spot prices (from its CSV or its live
feed's cache) through the tariff's formula, then the forecast, flagged, up to `FORECAST_DAYS`.

`TariffPrices` is a `PriceSource` (`price_slots`: known prices, None past them) and adds
`planning_slots`, which fills the unknown slots with the forecast and says where it begins, so a
caller marks those slots provisional and plans again when `refresh` brings the real prices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from optimizer.model import PriceSlot
from optimizer.prices.cache import cache_path
from optimizer.prices.forecast import DEFAULT_MODEL, LocalCalendar, forecast
from optimizer.prices.grid import PriceGrid, slot_index, slot_start
from optimizer.prices.live import FeedStatus, LivePrices
from optimizer.prices.schedule import FetchSchedule, Publication
from optimizer.tariffs import PriceSeries, Tariff

if TYPE_CHECKING:
    import httpx

    from optimizer.ports import PriceSource

FORECAST_DAYS = 3
"""A forecast further past the published prices than this says nothing worth planning on."""


def grid_to_series(grid: PriceGrid) -> PriceSeries | None:
    known = np.flatnonzero(~np.isnan(grid.values))
    if not len(known):
        return None
    starts = tuple(slot_start(grid.first + int(i)) for i in known)
    ends = tuple(slot_start(grid.first + int(i) + 1) for i in known)
    return PriceSeries(starts, ends, tuple(float(grid.values[i]) for i in known))


def series_to_grid(series: PriceSeries) -> PriceGrid:
    return PriceGrid.from_intervals(zip(series.starts, series.ends, series.prices, strict=True))


@dataclass(slots=True)
class TariffPrices:
    tariff: Tariff
    live: LivePrices | None
    spot: PriceGrid | None
    """Spot prices (before the tariff's formula); None for a fixed tariff."""

    @classmethod
    def open(cls, tariff: Tariff, tariff_dir: Path, state_dir: Path,
             publication: Publication | None = None) -> TariffPrices:
        settings = tariff.feed_settings
        if settings is not None:
            schedule = FetchSchedule(publication or Publication())
            live = LivePrices(settings.feed(tariff_dir), cache_path(state_dir, settings.source),
                              tariff.tz, schedule)
            return cls(tariff, live, live.cache.grid)
        span = tariff.known_span
        if span is None:
            return cls(tariff, None, None)
        spot = tariff.spot_series
        return cls(tariff, None, series_to_grid(spot) if spot is not None else None)

    @property
    def source(self) -> str:
        settings = self.tariff.feed_settings
        if settings is not None:
            return settings.source
        return "csv" if self.spot is not None else "fixed"

    @property
    def known_until(self) -> datetime | None:
        if self.spot is None:
            return None
        return self.spot.known_end()

    async def refresh(self, client: httpx.AsyncClient, now: datetime) -> FeedStatus | None:
        """Fetch the live feed if it is due; None for a tariff without one."""
        if self.live is None:
            return None
        if self.live.due(now):
            await self.live.refresh(client, now)
            self.spot = self.live.cache.grid
        return self.live.status(now)

    def _priced(self, spot: PriceGrid | None) -> Tariff:
        series = grid_to_series(spot) if spot is not None else None
        return self.tariff.with_spot(series) if series is not None else self.tariff

    def price_slots(self, start: datetime, end: datetime) -> list[PriceSlot]:
        if self.spot is None and self.tariff.spec.kind == "fixed":
            return self.tariff.price_slots(start, end)
        return self._priced(self.spot).price_slots(start, end)

    def planning_slots(self, start: datetime, end: datetime) -> tuple[list[PriceSlot], datetime]:
        """Prices for `[start, end)` with the forecast past the known ones, and where the
        forecast begins (`end` when nothing is forecast)."""
        known = self.known_until
        if self.spot is None or known is None or known >= end:
            return self.price_slots(start, end), end
        known_slot = slot_index(known)
        last = min(slot_index(end - timedelta(microseconds=1)) + 1,
                   known_slot + FORECAST_DAYS * 96)
        if last <= known_slot:
            return self.price_slots(start, end), max(known, start)
        history = self.spot.values[: known_slot - self.spot.first]
        calendar = LocalCalendar.build(known_slot - 28 * 96, last, self.tariff.tz)
        ahead = forecast(history, self.spot.first, known_slot, last, calendar, DEFAULT_MODEL)
        extended = self.spot.merged(PriceGrid(known_slot, np.asarray(ahead, dtype=np.float64)))
        slots = self._priced(extended).price_slots(start, end)
        return [s if s.price is None or not math.isnan(s.price) else
                PriceSlot(s.start, s.end, None) for s in slots], max(known, start)


def planning_prices(prices: PriceSource, start: datetime, end: datetime
                    ) -> tuple[Sequence[PriceSlot], datetime | None]:
    """Prices to plan `[start, end)` on, and where the forecast in them begins (None: none)."""
    if isinstance(prices, TariffPrices):
        slots, forecast_from = prices.planning_slots(start, end)
        return slots, forecast_from if forecast_from < end else None
    return prices.price_slots(start, end), None
