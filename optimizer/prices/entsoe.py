"""ENTSO-E Transparency Platform, day-ahead prices (document type A44), any bidding zone.

GET <base>?securityToken=…&documentType=A44&in_Domain=<EIC>&out_Domain=<EIC>&periodStart=
yyyyMMddHHmm&periodEnd=yyyyMMddHHmm (UTC). The answer is a Publication_MarketDocument: one or
more TimeSeries, each with Periods (`timeInterval` start/end, `resolution` PT15M/PT30M/PT60M)
of Points (`position` from 1, `price.amount` in EUR/MWh). With curve type A03 a position left
out repeats the one before it. When nothing is published yet the platform answers an
Acknowledgement_MarketDocument with reason text "No matching data found", which is an empty
page, not an error. Where a zone publishes two resolutions, the finer one wins.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from optimizer.prices.feed import FeedRequest, Interval, Page, parse_utc

_RESOLUTION = re.compile(r"^PT(\d+)M$")


def _children(node: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in node if child.tag.rsplit("}", 1)[-1] == name]


def _child(node: ET.Element, name: str) -> ET.Element:
    found = _children(node, name)
    if not found:
        raise ValueError(f"<{node.tag.rsplit('}', 1)[-1]}> has no <{name}>")
    return found[0]


def _text(node: ET.Element, name: str) -> str:
    return (_child(node, name).text or "").strip()


@dataclass(frozen=True, slots=True)
class EntsoeFeed:
    token: str
    zone: str
    base_url: str = "https://web-api.tp.entsoe.eu/api"
    name: str = "entsoe"
    currency: str = "EUR"
    empty_on_error: bool = True

    def first_request(self, start: datetime, end: datetime) -> FeedRequest:
        stamp = "%Y%m%d%H%M"
        return FeedRequest("GET", self.base_url, params={
            "securityToken": self.token, "documentType": "A44",
            "in_Domain": self.zone, "out_Domain": self.zone,
            "periodStart": start.astimezone(UTC).strftime(stamp),
            "periodEnd": end.astimezone(UTC).strftime(stamp),
        })

    def parse(self, body: bytes) -> Page:
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise ValueError(f"not XML: {exc}") from None
        kind = root.tag.rsplit("}", 1)[-1]
        if kind == "Acknowledgement_MarketDocument":
            reason = " ".join((n.text or "") for n in root.iter() if n.tag.endswith("text"))
            if "no matching data" in reason.lower():
                return Page([])
            raise ValueError(f"acknowledgement: {reason.strip() or 'no reason given'}")
        if kind != "Publication_MarketDocument":
            raise ValueError(f"unexpected document <{kind}>")
        periods: list[tuple[timedelta, list[Interval]]] = []
        for series in _children(root, "TimeSeries"):
            for period in _children(series, "Period"):
                periods.append(self._period(period))
        periods.sort(key=lambda item: -item[0])  # coarse first, so the finer overwrites it
        return Page([interval for _, intervals in periods for interval in intervals])

    @staticmethod
    def _period(period: ET.Element) -> tuple[timedelta, list[Interval]]:
        interval = _child(period, "timeInterval")
        start, end = parse_utc(_text(interval, "start")), parse_utc(_text(interval, "end"))
        match = _RESOLUTION.match(_text(period, "resolution"))
        if match is None:
            raise ValueError(f"resolution {_text(period, 'resolution')!r} is not PTnM")
        step = timedelta(minutes=int(match[1]))
        count = round((end - start) / step)
        prices: dict[int, float] = {}
        for point in _children(period, "Point"):
            prices[int(_text(point, "position"))] = float(_text(point, "price.amount")) / 1000
        if not prices:
            raise ValueError("a Period without Points")
        out: list[Interval] = []
        last: float | None = None
        for position in range(1, count + 1):
            last = prices.get(position, last)  # A03: a missing position repeats the last one
            if last is None:
                raise ValueError("the first position of a Period is missing")
            at = start + step * (position - 1)
            out.append((at, at + step, last))
        return step, out
