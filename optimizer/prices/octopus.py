"""Octopus Energy (GB) unit rates, e.g. Agile: the public products API, no token needed.

GET https://api.octopus.energy/v1/products/<product>/electricity-tariffs/E-1R-<product>-<region>/
standard-unit-rates/?period_from=…Z&period_to=…Z answers `{"count", "next", "previous",
"results": [{"value_exc_vat", "value_inc_vat", "valid_from", "valid_to", "payment_method"}]}`
with rates in pence per kWh, newest first, in pages linked by `next`. Agile rates are
half-hourly and published about 16:00 UK time for the next day (23:00 to 23:00).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from optimizer.prices.feed import FeedRequest, Page, parse_utc


@dataclass(frozen=True, slots=True)
class OctopusFeed:
    product: str
    region: str
    price_field: str = "value_inc_vat"
    base_url: str = "https://api.octopus.energy/v1"
    name: str = "octopus"
    currency: str = "GBP"

    def first_request(self, start: datetime, end: datetime) -> FeedRequest:
        tariff = f"E-1R-{self.product}-{self.region}"
        stamp = "%Y-%m-%dT%H:%MZ"
        return FeedRequest(
            "GET",
            f"{self.base_url}/products/{self.product}/electricity-tariffs/{tariff}/"
            f"standard-unit-rates/",
            params={"period_from": start.astimezone(UTC).strftime(stamp),
                    "period_to": end.astimezone(UTC).strftime(stamp), "page_size": "1500"},
        )

    def parse(self, body: bytes) -> Page:
        document = json.loads(body)
        out = []
        for item in document["results"]:
            if item.get("valid_to") is None:
                continue  # an open-ended rate is a fixed tariff's, not a half-hour's price
            price = float(item[self.price_field]) / 100.0
            if not math.isfinite(price):
                raise ValueError(f"{self.price_field} is not a finite number")
            out.append((parse_utc(item["valid_from"]), parse_utc(item["valid_to"]), price))
        next_url = document.get("next")
        if next_url is not None and not isinstance(next_url, str):
            raise ValueError("next is not a URL")
        return Page(sorted(out), next_url)
