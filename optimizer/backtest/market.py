"""What the backtest knows about prices: the truth, and what was published at each moment."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from optimizer.model import PriceSlot
from optimizer.prices.forecast import DEFAULT_MODEL, LocalCalendar, ModelName, forecast
from optimizer.prices.grid import FloatArray, PriceGrid, slot_index, slot_start
from optimizer.prices.schedule import Publication

_FORECAST_DAYS = 3


@dataclass(slots=True)
class Market:
    """True prices on the 15-minute grid plus the publication rule.

    `publication=None` means every price is known from the start (a fixed tariff). The forecast
    for the slots past the published end is made from the published history only and cached per
    published end, since every plan made between two publications sees the same one.
    """

    grid: PriceGrid
    publication: Publication | None
    calendar: LocalCalendar
    model: ModelName | None = DEFAULT_MODEL
    _forecasts: dict[int, FloatArray] = field(default_factory=dict)

    @classmethod
    def build(cls, grid: PriceGrid, publication: Publication | None,
              model: ModelName | None = DEFAULT_MODEL) -> Market:
        tz = publication.tz if publication is not None else ZoneInfo("UTC")
        calendar = LocalCalendar.build(
            grid.first - 28 * 96, grid.first + len(grid) + (_FORECAST_DAYS + 8) * 96, tz
        )
        return cls(grid, publication, calendar, model)

    def true_price(self, slot: int) -> float:
        return float(self.grid.values[slot - self.grid.first])

    def known_until(self, now: datetime) -> int:
        """Slot number where the prices published by `now` end."""
        if self.publication is None:
            return self.grid.first + len(self.grid)
        return slot_index(self.publication.known_until(now))

    def believed(self, now: datetime, first: int, last: int) -> tuple[FloatArray, int]:
        """Prices of slots `first..last-1` as seen at `now`, and where the published ones end.

        Published slots carry their true price; later ones the forecast, or NaN without one.
        """
        known = min(self.known_until(now), self.grid.first + len(self.grid))
        values = self.grid.window(first, last)
        if last > known:
            tail = self._forecast(known, last)
            a = max(first, known)
            values[a - first :] = tail[a - known : last - known]
        return values, known

    def _forecast(self, known: int, last: int) -> FloatArray:
        if self.model is None:
            return np.full(last - known, np.nan)
        cached = self._forecasts.get(known)
        if cached is None or len(cached) < last - known:
            span = max(last - known, _FORECAST_DAYS * 96)
            history = self.grid.values[: known - self.grid.first]
            cached = forecast(history, self.grid.first, known, known + span, self.calendar,
                              self.model)
            self._forecasts[known] = cached
        return cached


def as_price_slots(values: FloatArray, first: int) -> list[PriceSlot]:
    return [
        PriceSlot(slot_start(first + i), slot_start(first + i + 1),
                  None if math.isnan(v) else v)
        for i, v in enumerate(values.tolist())
    ]
