"""`[spot]` settings of a tariff whose prices come from a live feed (`source = "..."`).

One model per provider, each with only its own keys, so `zone` on an aWATTar tariff or a typo
in `token_file` is reported instead of ignored. `base_url` exists for tests and mirrors; the
defaults are the providers' documented endpoints. Token files are read only when a feed is
built, and must be mode 0600.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from optimizer.chargers.secret_files import read_secret
from optimizer.prices.awattar import AwattarFeed
from optimizer.prices.energidataservice import EnergiDataServiceFeed
from optimizer.prices.energyzero import EnergyZeroFeed
from optimizer.prices.entsoe import EntsoeFeed
from optimizer.prices.feed import Feed
from optimizer.prices.octopus import OctopusFeed
from optimizer.prices.tibber import TibberFeed

FEED_SOURCES = ("entsoe", "awattar", "tibber", "octopus", "energidataservice", "energyzero")
_EIC = re.compile(r"^[0-9A-Z]{2}[A-Z][0-9A-Z-]{12}[0-9A-Z]$")


class _Feed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_s: float = Field(default=15.0, gt=0.0, le=300.0)


class EntsoeSettings(_Feed):
    source: Literal["entsoe"]
    zone: str
    """Bidding zone as an EIC code, e.g. 10Y1001A1001A82H for DE-LU."""
    token_file: Path
    base_url: str = "https://web-api.tp.entsoe.eu/api"

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if not _EIC.match(value):
            raise ValueError(
                f"'{value}' is not an EIC bidding-zone code such as '10Y1001A1001A82H' (DE-LU)"
            )
        return value

    def feed(self, base: Path) -> Feed:
        token = read_secret(base / self.token_file, "ENTSO-E security token")
        return EntsoeFeed(token, self.zone, self.base_url)


class AwattarSettings(_Feed):
    source: Literal["awattar"]
    country: Literal["de", "at"] = "de"
    base_url: str | None = None

    def feed(self, base: Path) -> Feed:
        return AwattarFeed(self.country, self.base_url)


class TibberSettings(_Feed):
    source: Literal["tibber"]
    token_file: Path
    home_id: str | None = None
    price_field: Literal["total", "energy"] = "total"
    resolution: Literal["QUARTER_HOURLY", "HOURLY"] = "QUARTER_HOURLY"
    base_url: str = "https://api.tibber.com/v1-beta/gql"

    def feed(self, base: Path) -> Feed:
        token = read_secret(base / self.token_file, "Tibber token")
        return TibberFeed(token, self.home_id, self.price_field, self.resolution, self.base_url)


class OctopusSettings(_Feed):
    source: Literal["octopus"]
    product: str = Field(min_length=1)
    """e.g. AGILE-24-10-01."""
    region: str
    """The GSP region letter A..P (A = Eastern England)."""
    price_field: Literal["value_inc_vat", "value_exc_vat"] = "value_inc_vat"
    base_url: str = "https://api.octopus.energy/v1"

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not re.fullmatch(r"[A-HJ-NP]", value.upper()):
            raise ValueError(f"'{value}' is not a region letter A..P (no I or O)")
        return value.upper()

    def feed(self, base: Path) -> Feed:
        return OctopusFeed(self.product, self.region, self.price_field, self.base_url)


class EnergiDataServiceSettings(_Feed):
    source: Literal["energidataservice"]
    area: Literal["DK1", "DK2"] = "DK1"
    dataset: Literal["DayAheadPrices", "Elspotprices"] = "DayAheadPrices"
    currency: Literal["EUR", "DKK"] = "EUR"
    base_url: str = "https://api.energidataservice.dk/dataset"

    def feed(self, base: Path) -> Feed:
        return EnergiDataServiceFeed(self.area, self.dataset, self.currency, self.base_url)


class EnergyZeroSettings(_Feed):
    source: Literal["energyzero"]
    incl_vat: bool = False
    base_url: str = "https://api.energyzero.nl/v1"

    def feed(self, base: Path) -> Feed:
        return EnergyZeroFeed(self.incl_vat, self.base_url)


FeedSettings = Annotated[
    Annotated[EntsoeSettings, Tag("entsoe")]
    | Annotated[AwattarSettings, Tag("awattar")]
    | Annotated[TibberSettings, Tag("tibber")]
    | Annotated[OctopusSettings, Tag("octopus")]
    | Annotated[EnergiDataServiceSettings, Tag("energidataservice")]
    | Annotated[EnergyZeroSettings, Tag("energyzero")],
    Discriminator("source"),
]


def spot_kind(value: Any) -> str:
    """'csv' for a `[spot]` table that names a CSV file, else its live `source`."""
    source = value.get("source") if isinstance(value, dict) else getattr(value, "source", None)
    return "csv" if source in (None, "csv") else "feed"


_MODELS: dict[str, type[BaseModel]] = {
    "entsoe": EntsoeSettings, "awattar": AwattarSettings, "tibber": TibberSettings,
    "octopus": OctopusSettings, "energidataservice": EnergiDataServiceSettings,
    "energyzero": EnergyZeroSettings,
}


def spot_location(loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], type[BaseModel] | None]:
    """A validation error's location without the union's tag names (`spot.feed.awattar.zone`
    -> `spot.zone`), and the `[spot]` model it belongs to, to list its keys."""
    if len(loc) < 2 or loc[0] != "spot" or loc[1] not in ("csv", "feed"):
        return loc, None
    if loc[1] == "csv":
        from optimizer.tariffs import SpotSource

        return ("spot", *loc[2:]), SpotSource if len(loc) == 3 else None
    model = _MODELS.get(str(loc[2])) if len(loc) > 2 else None
    rest = loc[3:] if model is not None else loc[2:]
    return ("spot", *rest), model if len(rest) == 1 else None
