"""Price series read from CSV files, on the common 15-minute grid.

Kept apart from the tariff files (optimizer.tariffs) because it needs no pydantic: `plan
--prices`, `plan --batch` and `plan --fleet` read only a CSV, and loading pydantic and the
tariff models would be most of their start-up time.
"""

from __future__ import annotations

import csv
import math
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from optimizer.errors import InputError
from optimizer.model import SLOT, PriceWindow


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """A sorted, non-overlapping series of priced intervals in UTC (as read from a CSV file)."""

    starts: tuple[datetime, ...]
    ends: tuple[datetime, ...]
    prices: tuple[float, ...]
    start_stamps: tuple[float, ...] = field(init=False, repr=False, compare=False)
    end_stamps: tuple[float, ...] = field(init=False, repr=False, compare=False)
    """Epoch seconds of `starts` and `ends`: a plan looks prices up by number, not datetime."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "start_stamps", tuple(s.timestamp() for s in self.starts))
        object.__setattr__(self, "end_stamps", tuple(e.timestamp() for e in self.ends))

    def price_at(self, at: datetime) -> float | None:
        """The price of the interval containing `at`, or None outside the series."""
        index = bisect_right(self.starts, at) - 1
        if index < 0 or at >= self.ends[index]:
            return None
        return self.prices[index]

    @property
    def end(self) -> datetime:
        return self.ends[-1]

    def price_slots(self, start: datetime, end: datetime) -> PriceWindow:
        """The series on the 15-minute grid for `[start, end)`; uncovered slots are None.

        With `Tariff.price_slots` this makes both a `PriceSource`.
        """
        step = SLOT.total_seconds()
        at = start.timestamp()
        at -= at % step
        stop = end.timestamp()
        starts, ends, values = self.start_stamps, self.end_stamps, self.prices
        index = bisect_right(starts, at) - 1
        last = len(starts) - 1
        first = at
        out_prices: list[float | None] = []
        while at < stop:
            while index < last and starts[index + 1] <= at:
                index += 1
            if index >= 0 and at < ends[index]:
                # every grid slot up to the end of this interval has its price: a block at once
                count = max(1, int(-(-(min(ends[index], stop) - at) // step)))
                out_prices.extend([values[index]] * count)
            else:
                upto = starts[index + 1] if index < last else stop
                count = max(1, int(-(-(min(upto, stop) - at) // step)))
                out_prices.extend([None] * count)
            at += count * step
        out_starts = [first + k * step for k in range(len(out_prices))]
        return PriceWindow(out_starts, out_prices)


def _parse_time(text: str, where: str, column: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"{where}: {column} {text!r} is not an ISO 8601 time; "
            f"write it like 2024-03-05T18:00:00+01:00"
        ) from None
    if value.tzinfo is None:
        raise InputError(
            f"{where}: {column} {text!r} has no UTC offset; add one, e.g. +01:00 or Z"
        )
    return value.astimezone(UTC)


def read_price_csv(
    path: Path,
    *,
    time_column: str = "start",
    price_column: str = "price",
    end_column: str | None = "end",
    scale: float = 1.0,
) -> PriceSeries:
    """Read a price CSV; every problem is reported with the file, line and column.

    Without an end column a slot lasts until the next start; the last one lasts as long as the
    one before it (one hour for an hourly file), since nothing else says how long it is.
    """
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: price file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the price file: {exc.strerror}") from None
    starts: list[datetime] = []
    ends: list[datetime | None] = []
    prices: list[float] = []
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        for needed in (time_column, price_column):
            if needed not in header:
                raise InputError(
                    f"{path}: missing column '{needed}'; the header has "
                    f"{', '.join(header) or 'nothing'} but needs '{time_column}' and "
                    f"'{price_column}'"
                )
        has_end = end_column is not None and end_column in header
        for row in reader:
            where = f"{path}:{reader.line_num}"
            start = _parse_time(row[time_column] or "", where, time_column)
            raw_price = (row[price_column] or "").strip()
            try:
                price = float(raw_price) * scale
            except ValueError:
                raise InputError(
                    f"{where}: {price_column} {raw_price!r} is not a number; "
                    f"write a decimal such as 0.2815"
                ) from None
            if not math.isfinite(price):
                raise InputError(f"{where}: {price_column} {raw_price!r} is not a finite number")
            end = None
            if has_end and end_column is not None and (row[end_column] or "").strip():
                end = _parse_time(row[end_column] or "", where, end_column)
                if end <= start:
                    raise InputError(f"{where}: end is not after start")
            if starts and start <= starts[-1]:
                raise InputError(
                    f"{where}: {time_column} {row[time_column]!r} is not after the previous row; "
                    f"sort the file by time and remove duplicates"
                )
            starts.append(start)
            ends.append(end)
            prices.append(price)
    if not starts:
        raise InputError(f"{path}: no price rows; the file needs at least one")
    return PriceSeries(tuple(starts), _fill_ends(path, starts, ends), tuple(prices))


def _fill_ends(
    path: Path, starts: list[datetime], ends: list[datetime | None]
) -> tuple[datetime, ...]:
    filled: list[datetime] = []
    for index, (start, end) in enumerate(zip(starts, ends, strict=True)):
        if end is None:
            if index + 1 < len(starts):
                end = starts[index + 1]
            elif index > 0:
                end = start + (filled[-1] - starts[index - 1])
            else:
                end = start + timedelta(hours=1)
        if index + 1 < len(starts) and end > starts[index + 1]:
            raise InputError(f"{path}: the slot starting {start.isoformat()} overlaps the next one")
        filled.append(end)
    return tuple(filled)


def floor_to_slot(at: datetime) -> datetime:
    """`at` rounded down to the 15-minute grid (UTC-aligned, which is local-aligned too)."""
    stamp = at.timestamp()
    step = SLOT.total_seconds()
    return datetime.fromtimestamp(stamp - stamp % step, UTC)


def slot_grid(start: datetime, end: datetime) -> list[datetime]:
    """Starts of the 15-minute slots overlapping `[start, end)`."""
    out = []
    at = floor_to_slot(start)
    while at < end:
        out.append(at)
        at += SLOT
    return out
