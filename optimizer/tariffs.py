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

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
)

from optimizer.bounds import PRICE, Range
from optimizer.errors import InputError, one_line
from optimizer.model import SLOT, PriceSlot
from optimizer.price_series import PriceSeries, read_price_csv, slot_grid
from optimizer.prices.settings import FeedSettings, spot_kind, spot_location
from optimizer.textfiles import read_text

__all__ = ["PriceSeries", "Tariff", "load_tariff", "read_price_csv", "slot_grid"]

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_UNIT_SCALE = {"EUR/kWh": 1.0, "EUR/MWh": 0.001, "ct/kWh": 0.01, "GBP/kWh": 1.0, "p/kWh": 0.01}


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
    source: Literal["csv"] = "csv"
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
    spot: (
        Annotated[
            Annotated[SpotSource, Tag("csv")] | Annotated[FeedSettings, Tag("feed")],
            Discriminator(spot_kind),
        ]
        | None
    ) = None
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

    def with_spot(self, spot: PriceSeries) -> Tariff:
        """This tariff on another spot series: a live feed's cached prices, for example."""
        return Tariff(self.spec, spot)

    @property
    def feed_settings(self) -> FeedSettings | None:
        """The live feed named in `[spot] source = "..."`, or None for a CSV or fixed tariff."""
        spot = self.spec.spot
        return None if spot is None or isinstance(spot, SpotSource) else spot

    @property
    def spot_series(self) -> PriceSeries | None:
        return self._spot

    @property
    def known_span(self) -> tuple[datetime, datetime] | None:
        """`[start, end)` of the spot series; None for a fixed tariff (known forever)."""
        return (self._spot.starts[0], self._spot.end) if self._spot is not None else None

    def price_at(self, at: datetime) -> float | None:
        local = at.astimezone(self.tz)
        spec = self.spec
        if spec.kind == "fixed":
            assert spec.price is not None
            return _zone_price(self._zones, local, spec.price)
        if self._spot is None:  # a live feed with nothing fetched yet: unknown, not zero
            return None
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
            loc, owner = spot_location(tuple(error["loc"]))
            if error["type"] == "extra_forbidden":
                known = owner.model_fields if owner is not None else TariffFile.model_fields
                message = f"unknown key; known keys: {', '.join(sorted(known))}"
            problems.append(_tariff_problem(loc, message))
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
    if not isinstance(spec.spot, SpotSource):
        return Tariff(spec, None)  # prices come from the feed's cache; see optimizer.prices.live
    series = read_price_csv(
        (path.parent / spec.spot.csv).resolve(),
        time_column=spec.spot.time_column,
        price_column=spec.spot.price_column,
        scale=_UNIT_SCALE[spec.spot.unit],
    )
    return Tariff(spec, series)
