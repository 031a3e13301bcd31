"""A price forecast for the slots past the published day-ahead horizon.

Pure: the forecast is made from the known history only (`history` ends where the published prices
end), so a backtest that feeds it what was published at a moment can never peek. Slots are
matched by local wall-clock time (slot of day, weekday), since the daily shape of prices follows
local life, not UTC.

The models are simple and robust on purpose; `bench/eval_forecast.py` measures them on the real
series and `DEFAULT_MODEL` is the one that measured best there (see the README for the figures).
A forecast is always provisional: the planner is re-run when the real prices arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np

from optimizer.prices.grid import SLOT_S, FloatArray

SLOTS_PER_DAY = 96
ModelName = Literal[
    "yesterday", "last_week", "median_slot_7d", "low_slot_7d", "min_slot_7d",
    "median_weekday_4w", "median_weekday_4w_level", "median_slot_14d_weekday",
]
MODELS: tuple[ModelName, ...] = (
    "yesterday", "last_week", "median_slot_7d", "low_slot_7d", "min_slot_7d",
    "median_weekday_4w", "median_weekday_4w_level", "median_slot_14d_weekday",
)
DEFAULT_MODEL: ModelName = "median_slot_14d_weekday"


@dataclass(frozen=True, slots=True)
class LocalCalendar:
    """Local slot of day (0..95, by wall clock) and weekday (Mon=0) of absolute slot numbers."""

    tz: ZoneInfo
    first: int
    slot_of_day: np.ndarray
    weekday: np.ndarray

    @classmethod
    def build(cls, first: int, last: int, tz: ZoneInfo) -> LocalCalendar:
        import pandas as pd  # here: the CLI imports this module for its flags, pandas is slow

        stamps = pd.to_datetime(np.arange(first, last, dtype=np.int64) * SLOT_S, unit="s",
                                utc=True)
        local = stamps.tz_convert(tz).tz_localize(None).as_unit("s")
        local_minutes = local.asi8 // 60
        slot = (local_minutes // 15) % SLOTS_PER_DAY
        weekday = (local_minutes // 1440 + 3) % 7  # 1970-01-01 was a Thursday
        return cls(tz, first, np.asarray(slot, dtype=np.int64), np.asarray(weekday, dtype=np.int64))

    def covers(self, first: int, last: int) -> bool:
        return self.first <= first and last <= self.first + len(self.slot_of_day)

    def at(self, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = first - self.first, last - self.first
        return self.slot_of_day[a:b], self.weekday[a:b]


def _profile(
    values: FloatArray, keys: np.ndarray, size: int, quantile: float = 0.5
) -> FloatArray:
    """A quantile (the median by default) of `values` per key (0..size-1), NaN values ignored;
    NaN for keys never seen."""
    out = np.full(size, np.nan)
    ok = ~np.isnan(values)
    values, keys = values[ok], keys[ok]
    if not len(values):
        return out
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    bounds = np.flatnonzero(np.diff(keys)) + 1
    for group_keys, group in zip(np.split(keys, bounds), np.split(values, bounds), strict=True):
        out[group_keys[0]] = float(np.quantile(group, quantile))
    return out


def forecast(
    history: FloatArray,
    history_first: int,
    target_first: int,
    target_last: int,
    calendar: LocalCalendar,
    model: ModelName = DEFAULT_MODEL,
) -> FloatArray:
    """Predicted prices of slots `target_first..target_last-1` from `history`.

    `history[i]` is the known price of slot `history_first + i`; only it is used. Where the
    history is too short for a slot's key the forecast falls back to the recent median, and with
    no history at all it is NaN (the planner then uses its own fallback price).
    """
    n = target_last - target_first
    if n <= 0:
        return np.zeros(0)
    history_last = history_first + len(history)
    need = max(history_first, history_last - 28 * SLOTS_PER_DAY)
    if not calendar.covers(need, target_last):
        calendar = LocalCalendar.build(min(need, target_first), target_last, calendar.tz)
    recent = history[need - history_first :]
    slot_h, weekday_h = calendar.at(need, history_last)
    slot_t, weekday_t = calendar.at(target_first, target_last)
    result = _MODELS[model](recent, slot_h, weekday_h, slot_t, weekday_t)
    fallback = np.nanmedian(recent[-7 * SLOTS_PER_DAY :]) if np.any(~np.isnan(recent)) else np.nan
    return np.where(np.isnan(result), fallback, result)


_Model = Callable[[FloatArray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], FloatArray]
_DAY = SLOTS_PER_DAY


def _last_days(days: int, *arrays: np.ndarray) -> list[np.ndarray]:
    return [a[-days * _DAY :] for a in arrays]


def _by_slot(days: int, quantile: float, values: FloatArray, slot_h: np.ndarray,
             weekday_h: np.ndarray, slot_t: np.ndarray, weekday_t: np.ndarray) -> FloatArray:
    """A quantile of each local slot of day over the last `days` days."""
    v, s = _last_days(days, values, slot_h)
    return np.asarray(_profile(v, s, _DAY, quantile)[slot_t], dtype=np.float64)


def _by_weekday_slot(days: int, values: FloatArray, slot_h: np.ndarray, weekday_h: np.ndarray,
                     slot_t: np.ndarray, weekday_t: np.ndarray) -> FloatArray:
    """The median of each (weekday, slot of day) over the last `days` days."""
    v, s, w = _last_days(days, values, slot_h, weekday_h)
    return np.asarray(_profile(v, w * _DAY + s, 7 * _DAY)[weekday_t * _DAY + slot_t],
                      dtype=np.float64)


def _median_weekday_4w_level(values: FloatArray, slot_h: np.ndarray, weekday_h: np.ndarray,
                             slot_t: np.ndarray, weekday_t: np.ndarray) -> FloatArray:
    """The 4-week weekday profile, shifted by how far the last week sits above the four."""
    base = _by_weekday_slot(28, values, slot_h, weekday_h, slot_t, weekday_t)
    shift = np.nanmean(values[-7 * _DAY :]) - np.nanmean(values[-28 * _DAY :])
    return np.asarray(base + shift, dtype=np.float64)


def _median_slot_14d_weekday(values: FloatArray, slot_h: np.ndarray, weekday_h: np.ndarray,
                             slot_t: np.ndarray, weekday_t: np.ndarray) -> FloatArray:
    """The daily shape of the last 14 days plus each weekday's offset over four weeks."""
    shape = _by_slot(14, 0.5, values, slot_h, weekday_h, slot_t, weekday_t)
    v4, w4 = _last_days(28, values, weekday_h)
    day_mean = _profile(v4, w4, 7)
    offset = day_mean - np.nanmedian(day_mean)
    return np.asarray(shape + np.nan_to_num(offset[weekday_t]), dtype=np.float64)


_MODELS: dict[str, _Model] = {
    "yesterday": partial(_by_slot, 1, 0.5),
    "last_week": partial(_by_weekday_slot, 7),
    "median_slot_7d": partial(_by_slot, 7, 0.5),
    # the lower quartile / the minimum: optimistic forecasts, so that a plan made before
    # publication buys early only what is clearly cheap
    "low_slot_7d": partial(_by_slot, 7, 0.25),
    "min_slot_7d": partial(_by_slot, 7, 0.0),
    "median_weekday_4w": partial(_by_weekday_slot, 28),
    "median_weekday_4w_level": _median_weekday_4w_level,
    "median_slot_14d_weekday": _median_slot_14d_weekday,
}
