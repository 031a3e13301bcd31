"""Price series read from CSV files, on the common 15-minute grid.

Kept apart from the tariff files (optimizer.tariffs) because it needs no pydantic: `plan
--prices`, `plan --batch` and `plan --fleet` read only a CSV, and loading pydantic and the
tariff models would be most of their start-up time.
"""

from __future__ import annotations

import csv
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from operator import sub
from pathlib import Path
from typing import TextIO

from optimizer.bounds import PRICE
from optimizer.errors import InputError, quoted
from optimizer.model import SLOT, PriceWindow
from optimizer.recent import Recent
from optimizer.textfiles import file_errors
from optimizer.times import FIRST_YEAR, LAST_YEAR, parse_time

_COLUMN_NAME = re.compile(r"\w[\w .()/%-]{0,39}")


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """A sorted, non-overlapping series of priced intervals in UTC (as read from a CSV file)."""

    starts: tuple[datetime, ...]
    ends: tuple[datetime, ...]
    prices: tuple[float, ...]
    start_stamps: tuple[float, ...] = field(init=False, repr=False, compare=False)
    end_stamps: tuple[float, ...] = field(init=False, repr=False, compare=False)
    """Epoch seconds of `starts` and `ends`: a plan looks prices up by number, not datetime."""
    _grid: PriceWindow | None = field(init=False, repr=False, compare=False)
    """The whole series on the 15-minute grid, made by the first `price_slots`: each later
    window is two slices of it (a batch of 1,000 plans asks for 1,000 windows)."""
    _windows: Recent[tuple[int, int], PriceWindow] = field(init=False, repr=False, compare=False)
    """The latest windows handed out, by (first grid slot, count): asked for the same window
    again, the series hands out the same object, and the planner reuses the horizon it built on
    it (`optimizer.planner.horizon`)."""

    def __post_init__(self) -> None:
        starts = tuple(s.timestamp() for s in self.starts)
        object.__setattr__(self, "start_stamps", starts)
        if self.ends[:-1] == self.starts[1:]:  # back to back, as a file without ends is
            ends = (*starts[1:], self.ends[-1].timestamp())
        else:
            ends = tuple(e.timestamp() for e in self.ends)
        object.__setattr__(self, "end_stamps", ends)
        object.__setattr__(self, "_grid", None)
        object.__setattr__(self, "_windows", Recent(1024))

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

        A slot's price is that of the interval holding its start. With `Tariff.price_slots`
        this makes both a `PriceSource`.
        """
        step = SLOT.total_seconds()
        at = start.timestamp()
        at -= at % step
        stop = end.timestamp()
        grid = self._grid
        if grid is None:
            grid = self._whole_grid()
            object.__setattr__(self, "_grid", grid)
        first = int((at - grid.starts[0]) // step) if grid.starts else -1
        count = max(0, int(-(-(stop - at) // step)))
        if first < 0 or first + count > len(grid.starts):
            return self._walk(at, stop)  # reaches past the series: the None slots are made
        window = self._windows.get((first, count))
        if window is None:
            window = self._windows.remember((first, count), PriceWindow(
                grid.starts[first:first + count], grid.prices[first:first + count]))
        return window

    def _whole_grid(self) -> PriceWindow:
        """The whole series on the grid. An hourly or quarter-hourly file (intervals of one
        length, back to back, from a grid mark) is each price repeated, made in C; any other
        series is walked."""
        step = SLOT.total_seconds()
        starts, ends = self.start_stamps, self.end_stamps
        length = ends[0] - starts[0]
        repeat = int(length // step)
        if (starts[0] % step or repeat * step != length or ends[:-1] != starts[1:]
                or set(map(sub, ends, starts)) != {length}):
            return self._walk(starts[0] - starts[0] % step, ends[-1])
        prices: list[float | None] = list(chain.from_iterable(zip(*[self.prices] * repeat,
                                                                  strict=True)))
        return PriceWindow(_grid_starts(starts[0], len(prices)), prices)

    def _walk(self, at: float, stop: float) -> PriceWindow:
        """The grid slots from `at` (on the grid) until `stop`, walking the intervals once."""
        step = SLOT.total_seconds()
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
        return PriceWindow(_grid_starts(first, len(out_prices)), out_prices)


def _grid_starts(first: float, count: int) -> list[float]:
    """`count` grid stamps from `first`: they are multiples of 900 s, so whole-number steps
    give the same floats as adding 900.0 over and over, made in C."""
    step = int(SLOT.total_seconds())
    return list(map(float, range(int(first), int(first) + count * step, step)))


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
    A file that is not a price CSV is refused without quoting more than a short value of it.
    """
    with file_errors(path, "price file"), path.open(newline="", encoding="utf-8-sig") as handle:
        return _read_price_rows(path, handle, time_column, price_column, end_column, scale)


def _read_price_rows(
    path: Path, handle: TextIO, time_column: str, price_column: str, end_column: str | None,
    scale: float,
) -> PriceSeries:
    starts: list[datetime] = []
    ends: list[datetime | None] = []
    prices: list[float] = []
    # A plain reader with column indices: DictReader builds a dict per row, which was half of
    # the time of reading a year of prices.
    reader = csv.reader(handle)
    try:
        header = next(reader, [])
        for needed in (time_column, price_column):
            if needed not in header:
                raise InputError(
                    f"{path}: missing column '{needed}'; {_header_names(header)}, but a price "
                    f"file needs '{time_column}' and '{price_column}'"
                )
        at, at_price = header.index(time_column), header.index(price_column)
        at_end = header.index(end_column) if end_column is not None and end_column in header \
            else None
        width = len(header)
        fromiso = datetime.fromisoformat
        low, high = PRICE.low, PRICE.high
        for row in reader:
            if not row:  # a blank line, which DictReader skipped as well
                continue
            # The common row is taken without a message made for it: the right width, a start
            # with an offset in a sane year, a price in range, no end. Any other row goes to
            # `_checked_row`, which checks it again and names what is wrong.
            try:
                start = fromiso(row[at])
                price = float(row[at_price]) * scale
            except (ValueError, IndexError):
                start = None
            end = None
            # (fromisoformat gives a fixed offset or none: no tzinfo means no offset)
            if (start is None or len(row) != width or start.tzinfo is None
                    or not FIRST_YEAR <= start.year <= LAST_YEAR or not low <= price <= high
                    or (at_end is not None and row[at_end].strip())):
                start, end, price = _checked_row(
                    f"{path}:{reader.line_num}", row, header, (at, at_price, at_end), scale)
            else:
                start = start.astimezone(UTC)
            if starts and start <= starts[-1]:
                raise InputError(
                    f"{path}:{reader.line_num}: {time_column} {quoted(row[at])} is not after "
                    f"the previous row; sort the file by time and remove duplicates"
                )
            starts.append(start)
            ends.append(end)
            prices.append(price)
    except csv.Error as exc:
        raise InputError(f"{path}:{max(reader.line_num, 1)}: not a CSV file ({exc})") from None
    if not starts:
        raise InputError(f"{path}: no price rows; the file needs at least one")
    return PriceSeries(tuple(starts), _fill_ends(path, starts, ends), tuple(prices))


def _checked_row(
    where: str, row: list[str], header: list[str], columns: tuple[int, int, int | None],
    scale: float,
) -> tuple[datetime, datetime | None, float]:
    """(start, end or None, price) of one row, or the error that names what is wrong with it."""
    at, at_price, at_end = columns
    if len(row) != len(header):
        raise InputError(
            f"{where}: {len(row)} fields but the header has {len(header)}; write "
            f"decimals with a point (0.30, not 0,30) and quote fields that contain commas"
        )
    start = parse_time(row[at], f"{where}: {header[at]}").astimezone(UTC)
    raw_price = row[at_price].strip()
    try:
        price = float(raw_price) * scale
    except ValueError:
        raise InputError(
            f"{where}: {header[at_price]} {quoted(raw_price)} is not a number; "
            f"write a decimal such as 0.2815"
        ) from None
    if not PRICE.contains(price):
        raise InputError(
            f"{where}: {header[at_price]} {quoted(raw_price)} is out of range; use "
            f"{PRICE.describe()}"
        )
    end = None
    if at_end is not None and row[at_end].strip():
        end = parse_time(row[at_end], f"{where}: {header[at_end]}").astimezone(UTC)
        if end <= start:
            raise InputError(f"{where}: end is not after start")
    return start, end, price


def _header_names(header: Sequence[str]) -> str:
    """The header's column names, if they look like names; nothing of a file that is no CSV."""
    if not header:
        return "the file has no header"
    if len(header) <= 20 and all(_COLUMN_NAME.fullmatch(name) for name in header):
        return f"the header has {', '.join(header)}"
    return "its first line is not a CSV header"


def _fill_ends(
    path: Path, starts: list[datetime], ends: list[datetime | None]
) -> tuple[datetime, ...]:
    if ends.count(None) == len(ends) and len(starts) > 1:
        # No end column: each slot lasts until the next starts (the starts rise, so nothing
        # overlaps), the last one as long as the one before it.
        return (*starts[1:], starts[-1] + (starts[-1] - starts[-2]))
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
