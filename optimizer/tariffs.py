"""Tariff files and price series -> price slots on the common 15-minute grid.

Two tariff kinds, both plain TOML data (see tariffs/*.toml):

* `fixed`: a base price plus optional time-of-use zones (weekdays, time ranges, months); when
  several zones match a slot, the last one in the file wins, as in evcc's fixed tariff.
* `dynamic`: end price = (spot + markup) × (1 + VAT) + charges per kWh, where the spot series
  comes from a CSV file and the charges may themselves vary by zone (a German §14a module-3
  time-variable grid fee, for example).

Zones are matched on local wall-clock time of each slot's start, and slots are generated in UTC,
so a DST day has 92 or 100 slots and no hour is doubled or lost.
"""

from __future__ import annotations

import csv
import re
import tomllib
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from optimizer.bounds import PRICE, Range
from optimizer.errors import InputError, not_utf8, one_line, quoted
from optimizer.model import SLOT, PriceSlot
from optimizer.textfiles import read_text
from optimizer.times import parse_time

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_COLUMN_NAME = re.compile(r"\w[\w .()/%-]{0,39}")
_UNIT_SCALE = {"EUR/kWh": 1.0, "EUR/MWh": 0.001, "ct/kWh": 0.01, "GBP/kWh": 1.0, "p/kWh": 0.01}


# --------------------------------------------------------------------------- price series (CSV)


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """A sorted, non-overlapping series of priced intervals in UTC (as read from a CSV file)."""

    starts: tuple[datetime, ...]
    ends: tuple[datetime, ...]
    prices: tuple[float, ...]

    def price_at(self, at: datetime) -> float | None:
        """The price of the interval containing `at`, or None outside the series."""
        index = bisect_right(self.starts, at) - 1
        if index < 0 or at >= self.ends[index]:
            return None
        return self.prices[index]

    @property
    def end(self) -> datetime:
        return self.ends[-1]

    def price_slots(self, start: datetime, end: datetime) -> list[PriceSlot]:
        """The series on the 15-minute grid for `[start, end)`; uncovered slots are None.

        With `Tariff.price_slots` this makes both a `PriceSource`.
        """
        return [PriceSlot(at, at + SLOT, self.price_at(at)) for at in slot_grid(start, end)]


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
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return _read_price_rows(path, handle, time_column, price_column, end_column, scale)
    except FileNotFoundError:
        raise InputError(f"{path}: price file not found") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: {not_utf8(exc)}; a price file is a CSV saved as UTF-8") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the price file: {exc.strerror}") from None


def _read_price_rows(
    path: Path, handle: TextIO, time_column: str, price_column: str, end_column: str | None,
    scale: float,
) -> PriceSeries:
    starts: list[datetime] = []
    ends: list[datetime | None] = []
    prices: list[float] = []
    reader = csv.DictReader(handle)
    try:
        header = reader.fieldnames or []
        for needed in (time_column, price_column):
            if needed not in header:
                raise InputError(
                    f"{path}: missing column '{needed}'; {_header_names(header)}, but a price "
                    f"file needs '{time_column}' and '{price_column}'"
                )
        has_end = end_column is not None and end_column in header
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if None in row or None in row.values():
                count = len(header) + len(row.get(None) or ()) - list(row.values()).count(None)
                raise InputError(
                    f"{where}: {count} fields but the header has {len(header)}; write decimals "
                    f"with a point (0.30, not 0,30) and quote fields that contain commas"
                )
            start = parse_time(row[time_column], f"{where}: {time_column}").astimezone(UTC)
            raw_price = row[price_column].strip()
            try:
                price = float(raw_price) * scale
            except ValueError:
                raise InputError(
                    f"{where}: {price_column} {quoted(raw_price)} is not a number; "
                    f"write a decimal such as 0.2815"
                ) from None
            if not PRICE.contains(price):
                raise InputError(
                    f"{where}: {price_column} {quoted(raw_price)} is out of range; use "
                    f"{PRICE.describe()}"
                )
            end = None
            if has_end and end_column is not None and row[end_column].strip():
                end = parse_time(row[end_column], f"{where}: {end_column}").astimezone(UTC)
                if end <= start:
                    raise InputError(f"{where}: end is not after start")
            if starts and start <= starts[-1]:
                raise InputError(
                    f"{where}: {time_column} {quoted(row[time_column])} is not after the "
                    f"previous row; sort the file by time and remove duplicates"
                )
            starts.append(start)
            ends.append(end)
            prices.append(price)
    except csv.Error as exc:
        raise InputError(f"{path}:{max(reader.line_num, 1)}: not a CSV file ({exc})") from None
    if not starts:
        raise InputError(f"{path}: no price rows; the file needs at least one")
    return PriceSeries(tuple(starts), _fill_ends(path, starts, ends), tuple(prices))


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


# --------------------------------------------------------------------------- tariff files


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _parse_ranges(text: str, lo: int, hi: int, names: Sequence[str] | None) -> frozenset[int]:
    """'Mon-Fri,Sun' -> {0..4, 6}; '1-3,11' -> {1, 2, 3, 11}; ranges may wrap ('Sat-Mon')."""

    def value(token: str) -> int:
        token = token.strip().lower()
        if names is not None and token[:3] in names:
            return names.index(token[:3]) + lo
        try:
            number = int(token)
        except ValueError:
            allowed = f"{names[0]}..{names[-1]}" if names else f"{lo}..{hi}"
            raise ValueError(f"'{token}' is not valid here; use {allowed}") from None
        if not lo <= number <= hi:
            raise ValueError(f"{number} is outside {lo}..{hi}")
        return number

    out: set[int] = set()
    for part in text.split(","):
        if not part.strip():
            continue
        first, _, last = part.partition("-")
        a = value(first)
        b = value(last) if last else a
        span = range(a, b + 1) if a <= b else [*range(a, hi + 1), *range(lo, b + 1)]
        out.update(span)
    if not out:
        raise ValueError(f"'{text}' selects nothing")
    return frozenset(out)


def _parse_clock(text: str) -> int:
    """'HH:MM' -> minutes after midnight; '24:00' is allowed as the end of the day."""
    hours, _, minutes = text.strip().partition(":")
    try:
        value = int(hours) * 60 + int(minutes or 0)
    except ValueError:
        raise ValueError(f"'{text}' is not a time of day; write HH:MM") from None
    if not 0 <= value <= 24 * 60:
        raise ValueError(f"'{text}' is not a time of day between 00:00 and 24:00")
    return value


class Zone(_Model):
    """A time-of-use zone; every selector left out matches everything."""

    price: float = PRICE.field()
    days: str = "Mon-Sun"
    hours: str = "00:00-24:00"
    months: str = "1-12"

    @field_validator("days")
    @classmethod
    def _days(cls, value: str) -> str:
        _parse_ranges(value, 0, 6, _DAY_NAMES)
        return value

    @field_validator("months")
    @classmethod
    def _months(cls, value: str) -> str:
        _parse_ranges(value, 1, 12, None)
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        for part in value.split(","):
            start, sep, end = part.partition("-")
            if not sep:
                raise ValueError(f"'{part}' is not a range; write HH:MM-HH:MM")
            if _parse_clock(start) == _parse_clock(end):
                raise ValueError(f"'{part}' is empty; use 00:00-24:00 for the whole day")
        return value


@dataclass(frozen=True, slots=True)
class _CompiledZone:
    price: float
    days: frozenset[int]
    months: frozenset[int]
    minutes: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, zone: Zone) -> _CompiledZone:
        ranges = []
        for part in zone.hours.split(","):
            start, _, end = part.partition("-")
            ranges.append((_parse_clock(start), _parse_clock(end)))
        return cls(
            zone.price,
            _parse_ranges(zone.days, 0, 6, _DAY_NAMES),
            _parse_ranges(zone.months, 1, 12, None),
            tuple(ranges),
        )

    def matches(self, local: datetime) -> bool:
        if local.month not in self.months:
            return False
        minute = local.hour * 60 + local.minute
        for start, end in self.minutes:
            if start < end:
                if local.weekday() in self.days and start <= minute < end:
                    return True
            elif minute >= start:  # wraps midnight: the evening part belongs to this day
                if local.weekday() in self.days:
                    return True
            elif minute < end and (local.weekday() - 1) % 7 in self.days:
                return True
        return False


def _zone_price(zones: Sequence[_CompiledZone], local: datetime, base: float) -> float:
    price = base
    for zone in zones:  # the last matching zone wins
        if zone.matches(local):
            price = zone.price
    return price


class SpotSource(_Model):
    csv: Path
    time_column: str = "start"
    price_column: str = "price"
    unit: Literal["EUR/kWh", "EUR/MWh", "ct/kWh", "GBP/kWh", "p/kWh"] = "EUR/kWh"


class TariffFile(_Model):
    name: str
    kind: Literal["fixed", "dynamic"]
    currency: str = "EUR"
    timezone: str = "Europe/Berlin"
    description: str = ""
    price: float | None = PRICE.field(None)
    zones: list[Zone] = Field(default_factory=list)
    spot: SpotSource | None = None
    markup_per_kwh: float = PRICE.field(0.0)
    vat_pct: float = Range(0.0, 100.0, "%").field(0.0)
    charges_per_kwh: float = PRICE.field(0.0)
    charge_zones: list[Zone] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"'{value}' is not an IANA time zone such as 'Europe/Berlin'"
            ) from None
        return value


class Tariff:
    """A loaded tariff: turns any time range into 15-minute price slots."""

    def __init__(self, spec: TariffFile, spot: PriceSeries | None) -> None:
        self.spec = spec
        self.name = spec.name
        self.currency = spec.currency
        self.tz = ZoneInfo(spec.timezone)
        self._spot = spot
        self._zones = tuple(_CompiledZone.of(z) for z in spec.zones)
        self._charge_zones = tuple(_CompiledZone.of(z) for z in spec.charge_zones)

    @property
    def known_until(self) -> datetime | None:
        """End of the published prices; None for a fixed tariff, which is known forever."""
        return self._spot.end if self._spot is not None else None

    def price_at(self, at: datetime) -> float | None:
        local = at.astimezone(self.tz)
        spec = self.spec
        if spec.kind == "fixed":
            assert spec.price is not None
            return _zone_price(self._zones, local, spec.price)
        assert self._spot is not None
        spot = self._spot.price_at(at)
        if spot is None:
            return None
        charges = _zone_price(self._charge_zones, local, spec.charges_per_kwh)
        return (spot + spec.markup_per_kwh) * (1.0 + spec.vat_pct / 100.0) + charges

    def price_slots(self, start: datetime, end: datetime) -> list[PriceSlot]:
        return [PriceSlot(at, at + SLOT, self.price_at(at)) for at in slot_grid(start, end)]


def _tariff_problem(loc: tuple[Any, ...], message: str) -> str:
    where = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
    return f"{where or '(top level)'}: {message}"


def load_tariff(path: Path) -> Tariff:
    """Load and validate a tariff TOML file (and its spot CSV, relative to the file)."""
    try:
        data = tomllib.loads(read_text(path, "tariff file"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise InputError(f"{path}: not valid TOML: nested too deeply") from None
    try:
        spec = TariffFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = f"unknown key; known keys: {', '.join(sorted(TariffFile.model_fields))}"
            problems.append(_tariff_problem(tuple(error["loc"]), message))
        raise InputError(one_line(problems, str(path))) from None
    if spec.kind == "fixed":
        if spec.price is None:
            raise InputError(f"{path}: price: a fixed tariff needs a base price per kWh")
        if spec.spot is not None:
            raise InputError(
                f"{path}: spot: a fixed tariff has no spot source; use kind = 'dynamic'"
            )
        return Tariff(spec, None)
    if spec.spot is None:
        raise InputError(f"{path}: spot: a dynamic tariff needs a [spot] table with a csv file")
    if spec.zones or spec.price is not None:
        raise InputError(
            f"{path}: a dynamic tariff prices energy from its spot series; put time-variable "
            f"charges in [[charge_zones]] instead of 'price'/'zones'"
        )
    series = read_price_csv(
        (path.parent / spec.spot.csv).resolve(),
        time_column=spec.spot.time_column,
        price_column=spec.spot.price_column,
        scale=_UNIT_SCALE[spec.spot.unit],
    )
    return Tariff(spec, series)
