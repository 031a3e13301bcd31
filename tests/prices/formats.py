"""Response bodies in each provider's documented format (built, not copied), DST days included."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")


def local_day(day: datetime, tz: ZoneInfo = BERLIN) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    end = start + timedelta(days=1)
    end = datetime(end.year, end.month, end.day, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def price_for(at: datetime) -> float:
    """A recognisable EUR/MWh price: the UTC hour and minute (12:15 -> 121.5)."""
    return at.hour * 10 + at.minute / 10


def steps(start: datetime, end: datetime, minutes: int) -> list[datetime]:
    out, at = [], start
    while at < end:
        out.append(at)
        at += timedelta(minutes=minutes)
    return out


def _z(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def entsoe_a44(
    periods: list[tuple[datetime, datetime, int]], skip: frozenset[int] = frozenset()
) -> bytes:
    """A Publication_MarketDocument, one TimeSeries per (start, end, minutes) period; positions
    in `skip` are left out (curve type A03: they repeat the one before)."""
    series = []
    for n, (start, end, minutes) in enumerate(periods, start=1):
        points = "".join(
            f"<Point><position>{i}</position><price.amount>{price_for(at)}</price.amount></Point>"
            for i, at in enumerate(steps(start, end, minutes), start=1) if i not in skip
        )
        series.append(
            f"<TimeSeries><mRID>{n}</mRID><businessType>A62</businessType>"
            f"<currency_Unit.name>EUR</currency_Unit.name>"
            f"<price_Measure_Unit.name>MWH</price_Measure_Unit.name>"
            f"<curveType>A03</curveType><Period><timeInterval><start>{_z(start)}</start>"
            f"<end>{_z(end)}</end></timeInterval><resolution>PT{minutes}M</resolution>"
            f"{points}</Period></TimeSeries>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><Publication_MarketDocument '
        'xmlns="urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:3"><mRID>x</mRID>'
        "<type>A44</type>" + "".join(series) + "</Publication_MarketDocument>"
    ).encode()


ENTSOE_NO_DATA = (
    b'<?xml version="1.0" encoding="UTF-8"?><Acknowledgement_MarketDocument '
    b'xmlns="urn:iec62325.351:tc57wg16:451-1:acknowledgementdocument:7:0"><mRID>a</mRID>'
    b"<Reason><code>999</code><text>No matching data found for Data item Day-ahead Prices "
    b"[12.1.D] (10Y1001A1001A82H, 10Y1001A1001A82H) and interval 2024-03-31T22:00:00.000Z/"
    b"2024-04-01T22:00:00.000Z.</text></Reason></Acknowledgement_MarketDocument>"
)


def awattar(start: datetime, end: datetime, minutes: int = 60,
            price: Callable[[datetime], float] = price_for) -> bytes:
    data = [{"start_timestamp": int(at.timestamp() * 1000),
             "end_timestamp": int((at + timedelta(minutes=minutes)).timestamp() * 1000),
             "marketprice": price(at), "unit": "Eur/MWh"}
            for at in steps(start, end, minutes)]
    return json.dumps({"object": "list", "data": data, "url": "/de/v1/marketdata"}).encode()


def tibber(today: tuple[datetime, datetime], tomorrow: tuple[datetime, datetime] | None,
           minutes: int = 15) -> bytes:
    def prices(span: tuple[datetime, datetime] | None) -> list[dict[str, object]]:
        if span is None:
            return []
        return [{"startsAt": at.astimezone(BERLIN).isoformat(timespec="milliseconds"),
                 "total": price_for(at) / 1000 + 0.2, "energy": price_for(at) / 1000,
                 "currency": "EUR"} for at in steps(*span, minutes)]

    return json.dumps({"data": {"viewer": {"homes": [{"id": "home-1", "currentSubscription": {
        "priceInfo": {"today": prices(today), "tomorrow": prices(tomorrow)}}}]}}}).encode()


def octopus(start: datetime, end: datetime, next_url: str | None = None) -> bytes:
    results = [{"value_exc_vat": price_for(at) / 10 / 1.05, "value_inc_vat": price_for(at) / 10,
                "valid_from": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "valid_to": (at + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "payment_method": None}
               for at in reversed(steps(start, end, 30))]  # newest first, as Octopus sends
    return json.dumps({"count": len(results), "next": next_url, "previous": None,
                       "results": results}).encode()


def energidataservice(start: datetime, end: datetime, dataset: str = "DayAheadPrices") -> bytes:
    copenhagen = ZoneInfo("Europe/Copenhagen")
    if dataset == "DayAheadPrices":
        records = [{"TimeUTC": at.strftime("%Y-%m-%dT%H:%M:%S"),
                    "TimeDK": at.astimezone(copenhagen).strftime("%Y-%m-%dT%H:%M:%S"),
                    "PriceArea": area, "DayAheadPriceDKK": price_for(at) * 7.46,
                    "DayAheadPriceEUR": price_for(at)}
                   for at in steps(start, end, 15) for area in ("DK1", "DK2")]
    else:
        records = [{"HourUTC": at.strftime("%Y-%m-%dT%H:%M:%S"),
                    "HourDK": at.astimezone(copenhagen).strftime("%Y-%m-%dT%H:%M:%S"),
                    "PriceArea": "DK1", "SpotPriceDKK": price_for(at) * 7.46,
                    "SpotPriceEUR": price_for(at)} for at in steps(start, end, 60)]
    return json.dumps({"total": len(records), "filters": "{}", "limit": 0,
                       "dataset": dataset, "records": records}).encode()


def energyzero(start: datetime, end: datetime, minutes: int = 60) -> bytes:
    prices = [{"price": price_for(at) / 1000, "readingDate": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
              for at in steps(start, end, minutes)]
    return json.dumps({"Prices": prices, "intervalType": 4, "average": 0.1,
                       "fromDate": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "tillDate": end.strftime("%Y-%m-%dT%H:%M:%SZ")}).encode()
