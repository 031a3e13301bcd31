"""Prices on the common 15-minute UTC grid, as one numpy array (NaN where unknown).

Feeds deliver hourly, half-hourly or quarter-hourly intervals; every one is spread over the
15-minute slots it covers, so a 23- or 25-hour DST day simply has 92 or 100 slots. The backtest
and the forecast work on these arrays because a year is 35,136 slots and Python objects per slot
would dominate their run time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from optimizer.model import SLOT, PriceSlot

SLOT_S = int(SLOT.total_seconds())
FloatArray = npt.NDArray[np.float64]


def slot_index(at: datetime) -> int:
    """Number of the 15-minute slot containing `at`, counted from the epoch (UTC)."""
    return math.floor(at.timestamp() / SLOT_S)


def slot_start(index: int) -> datetime:
    return datetime.fromtimestamp(index * SLOT_S, UTC)


@dataclass(frozen=True, slots=True)
class PriceGrid:
    """`values[i]` is the price of slot `first + i`; NaN marks an unknown slot."""

    first: int
    values: FloatArray

    @classmethod
    def from_intervals(
        cls, intervals: Iterable[tuple[datetime, datetime, float]]
    ) -> PriceGrid:
        """Spread `(start, end, price)` intervals over the slots they cover."""
        items = sorted(intervals, key=lambda item: item[0])
        if not items:
            return cls(0, np.zeros(0))
        first = slot_index(items[0][0])
        last = max(math.ceil(end.timestamp() / SLOT_S) for _, end, _ in items)
        values = np.full(last - first, np.nan)
        for start, end, price in items:
            a = slot_index(start) - first
            b = math.ceil(end.timestamp() / SLOT_S) - first
            values[a:b] = price
        return cls(first, values)

    @classmethod
    def from_slots(cls, slots: Sequence[PriceSlot]) -> PriceGrid:
        return cls.from_intervals(
            (s.start, s.end, math.nan if s.price is None else s.price) for s in slots
        )

    def __len__(self) -> int:
        return len(self.values)

    @property
    def start(self) -> datetime:
        return slot_start(self.first)

    @property
    def end(self) -> datetime:
        return slot_start(self.first + len(self.values))

    def known_end(self) -> datetime | None:
        """End of the last known slot, or None when nothing is known."""
        known = np.flatnonzero(~np.isnan(self.values))
        return slot_start(self.first + int(known[-1]) + 1) if len(known) else None

    def window(self, first: int, last: int) -> FloatArray:
        """Slots `first..last-1` (absolute numbers); NaN outside the grid."""
        out = np.full(max(0, last - first), np.nan)
        a, b = max(first, self.first), min(last, self.first + len(self.values))
        if a < b:
            out[a - first : b - first] = self.values[a - self.first : b - self.first]
        return out

    def merged(self, newer: PriceGrid) -> PriceGrid:
        """This grid updated with the known slots of `newer` (a fresh fetch wins)."""
        if not len(newer):
            return self
        if not len(self):
            return newer
        first = min(self.first, newer.first)
        last = max(self.first + len(self), newer.first + len(newer))
        values = self.window(first, last)
        update = newer.window(first, last)
        mask = ~np.isnan(update)
        values[mask] = update[mask]
        return PriceGrid(first, values)

    def price_slots(self, start: datetime, end: datetime) -> list[PriceSlot]:
        """The grid as a `PriceSource`: slots overlapping `[start, end)`, None where unknown."""
        first = slot_index(start)
        last = math.ceil(end.timestamp() / SLOT_S)
        values = self.window(first, last)
        return [
            PriceSlot(slot_start(first + i), slot_start(first + i + 1),
                      None if math.isnan(v) else float(v))
            for i, v in enumerate(values.tolist())
        ]
