"""What every price feed shares: the request it makes, the page it parses, the errors it raises.

A feed is pure apart from `fetch_intervals`: `first_request(start, end)` says what to ask,
`parse(body)` turns one response body into priced intervals (and maybe a next page). The HTTP
part is the same for all of them and lives here, so a provider's module is only its format.
Every way a provider can fail (HTTP status, timeout, connection refused, a body that is not
the documented format) becomes a `FeedError` with a message that names the feed; the caller
keeps its last good prices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from optimizer.errors import OptimizerError

if TYPE_CHECKING:  # httpx is imported only when a feed is fetched: `plan` stays quick to start
    import httpx

Interval = tuple[datetime, datetime, float]
"""(start, end, price per kWh in the feed's currency), UTC."""


class FeedError(OptimizerError):
    """The feed could not deliver prices now; the message says which feed and why."""


@dataclass(frozen=True, slots=True)
class FeedRequest:
    method: str
    url: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    json: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Page:
    intervals: list[Interval]
    next_url: str | None = None


class Feed(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def currency(self) -> str: ...

    def first_request(self, start: datetime, end: datetime) -> FeedRequest: ...

    def parse(self, body: bytes) -> Page:
        """Raise ValueError, KeyError, TypeError, IndexError or AttributeError on anything but
        the documented format (a wrong shape shows up as any of them)."""
        ...


def parse_utc(text: str) -> datetime:
    """An ISO 8601 time; a naive one is UTC (the feeds that omit the offset document UTC)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def from_starts(starts: Sequence[datetime], prices: Sequence[float],
                step: timedelta | None = None) -> list[Interval]:
    """Intervals from start times alone: each lasts `step`, or the smallest spacing seen
    (hourly or quarter-hourly; UTC spacing stays even across DST days), else one hour."""
    if step is None:
        gaps = [b - a for a, b in pairwise(starts) if b > a]
        step = min(gaps) if gaps else timedelta(hours=1)
    out = []
    for start, price in zip(starts, prices, strict=True):
        if not math.isfinite(price):
            raise ValueError(f"price {price!r} is not a finite number")
        out.append((start, start + step, price))
    return out


MAX_PAGES = 20


async def fetch_intervals(
    feed: Feed, client: httpx.AsyncClient, start: datetime, end: datetime
) -> list[Interval]:
    """All intervals the feed has for `[start, end)`, following its pages."""
    import httpx  # here, not at the top: see the TYPE_CHECKING import

    request = feed.first_request(start, end)
    url: str | None = request.url
    params: dict[str, str] | None = request.params
    intervals: list[Interval] = []
    for _ in range(MAX_PAGES):
        if url is None:
            break
        try:
            response = await client.request(request.method, url, params=params,
                                            headers=request.headers, json=request.json)
        except httpx.TimeoutException:
            raise FeedError(f"{feed.name}: no answer in time from {_host(url)}") from None
        except httpx.HTTPError as exc:
            raise FeedError(f"{feed.name}: cannot reach {_host(url)}: {type(exc).__name__}") \
                from None
        if response.status_code in (401, 403):
            raise FeedError(f"{feed.name}: the provider refused the token "
                            f"(HTTP {response.status_code}); check the token file")
        if response.status_code >= 400 and not _no_data(feed, response):
            raise FeedError(f"{feed.name}: HTTP {response.status_code} from {_host(url)}")
        try:
            page = feed.parse(response.content)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise FeedError(f"{feed.name}: the answer is not in the documented format ({exc})") \
                from None
        intervals.extend(page.intervals)
        url, params = page.next_url, None
    return intervals


def _no_data(feed: Feed, response: httpx.Response) -> bool:
    """ENTSO-E answers "no matching data" (tomorrow not out yet) with an error status and an
    acknowledgement document; its parser turns that into an empty page."""
    return getattr(feed, "empty_on_error", False) and b"Acknowledgement" in response.content


def _host(url: str) -> str:
    return urlsplit(url).hostname or url
