"""EnergyZero (Netherlands): the EPEX NL day-ahead price, public, no token.

GET https://api.energyzero.nl/v1/energyprices?fromDate=…Z&tillDate=…Z&interval=4&usageType=1
&inclBtw=false answers `{"Prices": [{"price": EUR/kWh, "readingDate": "…Z"}], "intervalType",
"average", "fromDate", "tillDate"}`. Each price lasts until the next reading (an hour for
interval 4; a quarter of an hour where the market is quarter-hourly).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from optimizer.prices.feed import FeedRequest, Page, from_starts, parse_utc


@dataclass(frozen=True, slots=True)
class EnergyZeroFeed:
    incl_vat: bool = False
    base_url: str = "https://api.energyzero.nl/v1"
    name: str = "energyzero"
    currency: str = "EUR"

    def first_request(self, start: datetime, end: datetime) -> FeedRequest:
        stamp = "%Y-%m-%dT%H:%M:%S.000Z"
        return FeedRequest("GET", f"{self.base_url}/energyprices", params={
            "fromDate": start.astimezone(UTC).strftime(stamp),
            "tillDate": end.astimezone(UTC).strftime(stamp),
            "interval": "4", "usageType": "1", "inclBtw": "true" if self.incl_vat else "false",
        })

    def parse(self, body: bytes) -> Page:
        items = sorted(json.loads(body)["Prices"], key=lambda item: item["readingDate"])
        starts = [parse_utc(item["readingDate"]) for item in items]
        return Page(from_starts(starts, [float(item["price"]) for item in items]))
