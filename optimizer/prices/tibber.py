"""Tibber's GraphQL API: `viewer.homes[].currentSubscription.priceInfo` today and tomorrow.

POST https://api.tibber.com/v1-beta/gql with `Authorization: Bearer <token>`. Each price has
`startsAt` (ISO 8601 with the local offset), `total` (what the customer pays per kWh, taxes
included) and `energy` (the energy part). `priceInfo(resolution: QUARTER_HOURLY)` gives the
15-minute prices; without it they are hourly. Tomorrow is an empty list until it is out.
GraphQL reports failures in an `errors` array, often with HTTP 200.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from optimizer.prices.feed import FeedRequest, Page, from_starts, parse_utc

_STEP = {"QUARTER_HOURLY": timedelta(minutes=15), "HOURLY": timedelta(hours=1)}


@dataclass(frozen=True, slots=True)
class TibberFeed:
    token: str
    home_id: str | None = None
    price_field: str = "total"
    resolution: str = "QUARTER_HOURLY"
    base_url: str = "https://api.tibber.com/v1-beta/gql"
    name: str = "tibber"
    currency: str = "EUR"

    def first_request(self, start: datetime, end: datetime) -> FeedRequest:
        fields = f"startsAt {self.price_field} currency"
        query = (
            "{ viewer { homes { id currentSubscription { priceInfo(resolution: "
            f"{self.resolution}) {{ today {{ {fields} }} tomorrow {{ {fields} }} }} }} }} }}"
        )
        return FeedRequest("POST", self.base_url, json={"query": query},
                           headers={"Authorization": f"Bearer {self.token}"})

    def parse(self, body: bytes) -> Page:
        document = json.loads(body)
        if document.get("errors"):
            raise ValueError("; ".join(str(e.get("message", e)) for e in document["errors"]))
        homes = document["data"]["viewer"]["homes"]
        if self.home_id is not None:
            homes = [h for h in homes if h.get("id") == self.home_id]
            if not homes:
                raise ValueError(f"no home with id {self.home_id!r} on this account")
        if not homes:
            raise ValueError("the account has no home")
        info = homes[0]["currentSubscription"]["priceInfo"]
        items = [*(info.get("today") or []), *(info.get("tomorrow") or [])]
        starts = [parse_utc(item["startsAt"]) for item in items]
        prices = [float(item[self.price_field]) for item in items]
        return Page(from_starts(starts, prices, _STEP.get(self.resolution)))
