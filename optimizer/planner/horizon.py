"""The planning horizon: the slots between `now` and departure, with price and power cap.

The first slot runs from `now` to the next 15-minute mark, so a plan made at 18:07 never
schedules energy in the past. A safety buffer adds one more boundary at `departure - buffer`.
Slots whose price is unknown get the fallback price and are flagged provisional: they are never
silently treated as known. So are slots at or after `forecast_from`, whose price is a forecast
(a live feed's prices past its published horizon): planned on, but not promised.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import compress, pairwise
from operator import itemgetter

from optimizer.model import SLOT, PriceSlot, PriceWindow
from optimizer.recent import Recent

_SLOT_S = SLOT.total_seconds()
_SLOT_H = _SLOT_S / 3600.0
_third = itemgetter(2)
_recent: Recent[tuple[int, datetime, datetime, datetime | None, float | None, datetime | None],
               tuple[PriceWindow, Horizon]] = Recent(1024)
"""The horizons of the latest price windows: a batch plans many cars on one window, and the
horizon and its price order are the same for all of them. Keyed by the window's identity (held
here, so that the id stays its own) and the arguments that shape the horizon."""


@dataclass(frozen=True, slots=True)
class Horizon:
    """Parallel lists, one entry per slot; times are epoch seconds for speed."""

    starts: list[float]
    ends: list[float]
    hours: list[float]
    prices: list[float]
    provisional: list[bool]
    fallback_price: float | None
    """The price used for unknown slots, or None when every price is known."""
    any_known: bool = True
    """False when no slot has a published price (then costs mean nothing)."""
    _order: list[int] | None = field(default=None, init=False, repr=False, compare=False)
    _whole: tuple[list[int], list[float], list[int]] | None = field(
        default=None, init=False, repr=False, compare=False)
    _uniform: bool | None = field(default=None, init=False, repr=False, compare=False)
    _provisional: bool | None = field(default=None, init=False, repr=False, compare=False)

    def price_order(self) -> list[int]:
        """The slots cheapest first; at one price a published price before a provisional one,
        then the earlier slot. Made once: the plans on one price window share their horizon."""
        order = self._order
        if order is None:
            if self.any_provisional:
                # (price, provisional, index) tuples sort in C, without a Python key call
                order = list(map(_third, sorted(zip(self.prices, self.provisional,
                                                    range(len(self.starts)), strict=True))))
            else:  # by price alone: the sort is stable, so at one price the earlier slot first
                order = sorted(range(len(self.starts)), key=self.prices.__getitem__)
            object.__setattr__(self, "_order", order)
        return order

    def whole_and_partial(self) -> tuple[list[int], list[float], list[int]]:
        """(the whole 15-minute slots in `price_order`, their prices, the shorter slots in time
        order)."""
        split = self._whole
        if split is None:
            hours = self.hours
            partial = [i for i in compress(range(len(hours)), map(_SLOT_H.__ne__, hours))
                       if abs(hours[i] - _SLOT_H) >= 1e-9]
            whole = self.price_order()
            if partial:  # a few at most: after now, around the buffer, before departure
                shorter = set(partial)
                whole = [i for i in whole if i not in shorter]
            split = (whole, list(map(self.prices.__getitem__, whole)), partial)
            object.__setattr__(self, "_whole", split)
        return split

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def any_provisional(self) -> bool:
        """True when some slot's price is a fallback or a forecast."""
        found = self._provisional
        if found is None:
            found = any(self.provisional)
            object.__setattr__(self, "_provisional", found)
        return found

    @property
    def uniform_price(self) -> bool:
        """True when every slot costs the same, so that no slot is cheaper than another."""
        uniform = self._uniform
        if uniform is None:
            uniform = not self.prices or min(self.prices) == max(self.prices)
            object.__setattr__(self, "_uniform", uniform)
        return uniform

    def first_after(self, at: float) -> int:
        """Index of the first slot that starts at or after `at` (len when none)."""
        for index, start in enumerate(self.starts):
            if start >= at - 1e-6:
                return index
        return len(self.starts)


def build_horizon(
    prices: Sequence[PriceSlot],
    now: datetime,
    end: datetime,
    extra_boundary: datetime | None,
    unknown_price: float | None,
    forecast_from: datetime | None = None,
) -> Horizon:
    """Slots covering `[now, end)` on the 15-minute grid.

    `unknown_price=None` prices unknown slots at the highest known price in the horizon (plus a
    hair, so that a known slot wins a tie): the plan then stays within the known prices whenever
    they suffice and uses unknown slots only when it must.
    """
    if not isinstance(prices, PriceWindow):
        return _build(prices, now, end, extra_boundary, unknown_price, forecast_from)
    # aware datetimes compare and hash as instants, which is all a horizon depends on
    key = (id(prices), now, end, extra_boundary, unknown_price, forecast_from)
    found = _recent.get(key)
    if found is not None and found[0] is prices:
        return found[1]
    horizon = _build(prices, now, end, extra_boundary, unknown_price, forecast_from)
    _recent.remember(key, (prices, horizon))
    return horizon


def _build(
    prices: Sequence[PriceSlot],
    now: datetime,
    end: datetime,
    extra_boundary: datetime | None,
    unknown_price: float | None,
    forecast_from: datetime | None,
) -> Horizon:
    t0 = now.timestamp()
    t1 = end.timestamp()
    first = (t0 // _SLOT_S + 1) * _SLOT_S
    marks = max(0, int(-(-(t1 - 1e-6 - first) // _SLOT_S)))  # grid marks in (t0, t1)
    if (isinstance(prices, PriceWindow) and len(prices.starts) > marks
            and prices.starts[0] == first - _SLOT_S):
        marks_s = prices.starts[1:marks + 1]  # a window from now's slot holds these very marks
    else:  # multiples of 900 s: whole-number steps give the same floats, made in C
        step = int(_SLOT_S)
        marks_s = list(map(float, range(int(first), int(first) + marks * step, step)))
    bounds = [t0, *marks_s, t1]
    if extra_boundary is not None:
        tb = extra_boundary.timestamp()
        if t0 < tb < t1 and all(abs(tb - b) > 1e-6 for b in bounds):
            bounds.append(tb)
            bounds.sort()

    if (isinstance(prices, PriceWindow) and prices.starts and len(prices) >= len(bounds) - 1
            and prices.starts[0] == t0 - t0 % _SLOT_S and len(bounds) == _grid_count(t0, t1) + 1):
        # The window is this very grid (no extra boundary): slot k lies in window slot k.
        found: list[float | None] = prices.prices[: len(bounds) - 1]
    else:
        found = _lookup(prices, bounds)

    if len(bounds) > 2 and extra_boundary is None:
        # Between the first and the last slot every slot is a whole quarter hour.
        hours = [(bounds[1] - t0) / 3600.0, *[_SLOT_S / 3600.0] * (len(bounds) - 3),
                 (t1 - bounds[-2]) / 3600.0]
    else:
        hours = [(b - a) / 3600.0 for a, b in pairwise(bounds)]
    tf = forecast_from.timestamp() - 1e-6 if forecast_from is not None else math.inf
    if None not in found and tf > bounds[-2]:
        # Every price published and none forecast: the common case, without a pass per list.
        return Horizon(starts=bounds[:-1], ends=bounds[1:], hours=hours,
                       prices=found,  # type: ignore[arg-type]  # no None in it
                       provisional=[False] * len(found), fallback_price=None,
                       any_known=bool(found))
    known = [p for p in found if p is not None]
    unknown = [p is None for p in found]
    provisional = unknown
    if forecast_from is not None:
        provisional = [u or b >= tf for u, b in zip(unknown, bounds, strict=False)]
    fallback: float | None = None
    if any(unknown):
        if unknown_price is not None:
            fallback = unknown_price
        else:
            fallback = (max(known) if known else 0.0) + 1e-6
    resolved = [fallback if p is None else p for p in found]
    return Horizon(
        starts=bounds[:-1],
        ends=bounds[1:],
        hours=hours,
        prices=[p for p in resolved if p is not None],
        provisional=provisional,
        fallback_price=fallback,
        any_known=bool(known),
    )


def provisional_note(count: int, horizon: Horizon) -> str:
    """Why `count` charging slots are provisional: a fallback price, or a forecast."""
    if horizon.fallback_price is None:
        return (f"{count} charging slot(s) lie beyond the published prices and are priced on "
                f"the forecast; the plan will change when prices arrive")
    return (f"{count} charging slot(s) lie beyond the published prices and use the fallback "
            f"price {horizon.fallback_price:.4f}; the plan will change when prices arrive")


def _grid_count(t0: float, t1: float) -> int:
    """How many 15-minute grid slots overlap `[t0, t1)`."""
    first = t0 - t0 % _SLOT_S
    return int(-(-(t1 - first - 1e-6) // _SLOT_S))


def _lookup(prices: Sequence[PriceSlot], bounds: list[float]) -> list[float | None]:
    """The price at each slot start; the starts rise, so one pointer walks the list once."""
    if isinstance(prices, PriceWindow):
        price_starts = prices.starts
        price_ends = [t + _SLOT_S for t in price_starts]
        values = prices.prices
    else:
        price_starts = [p.start.timestamp() for p in prices]
        price_ends = [p.end.timestamp() for p in prices]
        values = [p.price for p in prices]
    found: list[float | None] = []
    index = bisect_right(price_starts, bounds[0] + 1e-6) - 1
    last = len(price_starts) - 1
    for start in bounds[:-1]:
        while index < last and price_starts[index + 1] <= start + 1e-6:
            index += 1
        if index >= 0 and start < price_ends[index] - 1e-6:
            found.append(values[index])
        else:
            found.append(None)
    return found


def to_datetime(stamp: float, like: datetime) -> datetime:
    """Epoch seconds back to an aware datetime in the zone of `like`."""
    return datetime.fromtimestamp(stamp, like.tzinfo)
