"""Energi Data Service (Energinet, Denmark): day-ahead prices for DK1/DK2.

GET https://api.energidataservice.dk/dataset/<dataset>?start=…&end=…&filter={"PriceArea":
["DK1"]}&timezone=UTC answers `{"total", "dataset", "records": [...]}`. The `DayAheadPrices`
dataset (15-minute, from October 2025) has `TimeUTC`, `DayAheadPriceEUR`, `DayAheadPriceDKK`;
the older hourly `Elspotprices` has `HourUTC`, `SpotPriceEUR`, `SpotPriceDKK`. Prices are per
MWh, times are UTC without an offset, and a price may be null where none was set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from optimizer.prices.feed import FeedRequest, Page, from_starts, parse_utc

_FIELDS = {
    "DayAheadPrices": ("TimeUTC", "DayAheadPrice", timedelta(minutes=15)),
    "Elspotprices": ("HourUTC", "SpotPrice", timedelta(hours=1)),
}


@dataclass(frozen=True, slots=True)
class EnergiDataServiceFeed:
    area: str = "DK1"
    dataset: str = "DayAheadPrices"
    currency: str = "EUR"
    base_url: str = "https://api.energidataservice.dk/dataset"
    name: str = "energidataservice"

    def first_request(self, start: datetime, end: datetime) -> FeedRequest:
        stamp = "%Y-%m-%dT%H:%M"
        return FeedRequest("GET", f"{self.base_url}/{self.dataset}", params={
            "start": start.astimezone(UTC).strftime(stamp),
            "end": end.astimezone(UTC).strftime(stamp),
            "filter": json.dumps({"PriceArea": [self.area]}),
            "timezone": "UTC", "sort": f"{_FIELDS[self.dataset][0]} asc", "limit": "0",
        })

    def parse(self, body: bytes) -> Page:
        time_field, price_field, step = _FIELDS[self.dataset]
        price_field += self.currency
        rows = []
        for record in json.loads(body)["records"]:
            if record.get("PriceArea", self.area) != self.area or record[price_field] is None:
                continue
            rows.append((parse_utc(record[time_field]), float(record[price_field]) / 1000.0))
        rows.sort()
        return Page(from_starts([r[0] for r in rows], [r[1] for r in rows], step))
