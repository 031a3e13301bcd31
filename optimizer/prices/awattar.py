"""aWATTar market data (Germany and Austria): the EPEX day-ahead price their tariffs follow.

GET https://api.awattar.<de|at>/v1/marketdata?start=<ms>&end=<ms> answers
`{"object": "list", "data": [{"start_timestamp": ms, "end_timestamp": ms, "marketprice": x,
"unit": "Eur/MWh"}]}`; timestamps are Unix milliseconds, so DST needs no care here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from optimizer.prices.feed import FeedRequest, Page

_UNITS = {"eur/mwh": 0.001, "eur/kwh": 1.0}


@dataclass(frozen=True, slots=True)
class AwattarFeed:
    country: str = "de"
    base_url: str | None = None
    name: str = "awattar"
    currency: str = "EUR"

    def first_request(self, start: datetime, end: datetime) -> FeedRequest:
        base = self.base_url or f"https://api.awattar.{self.country}/v1"
        return FeedRequest("GET", f"{base}/marketdata", params={
            "start": str(int(start.timestamp() * 1000)), "end": str(int(end.timestamp() * 1000)),
        })

    def parse(self, body: bytes) -> Page:
        document = json.loads(body)
        out = []
        for item in document["data"]:
            unit = str(item.get("unit", "Eur/MWh")).lower()
            if unit not in _UNITS:
                raise ValueError(f"unit {item.get('unit')!r} is not Eur/MWh")
            price = float(item["marketprice"]) * _UNITS[unit]
            if not math.isfinite(price):
                raise ValueError("marketprice is not a finite number")
            out.append((datetime.fromtimestamp(item["start_timestamp"] / 1000, UTC),
                        datetime.fromtimestamp(item["end_timestamp"] / 1000, UTC), price))
        return Page(out)
