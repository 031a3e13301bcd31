"""When day-ahead prices are published, and when to fetch them.

Day-ahead markets publish the prices of day D+1 once a day on day D: EPEX SDAC about 12:45
Europe/Brussels (from 12:42 on), GB Agile about 16:00 Europe/London. Delivery days are local days
of the publication's time zone, so a DST day simply has 23 or 25 hours.

Both the backtest (what was known at a moment) and the live feeds (when to fetch next) use this.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from optimizer.errors import InputError


def parse_clock(text: str, name: str = "published-at") -> time:
    """'HH:MM' -> time, with a message naming the flag when it is not one."""
    hours, sep, minutes = text.strip().partition(":")
    try:
        value = time(int(hours), int(minutes))
    except ValueError:
        value = None
    if value is None or not sep:
        raise InputError(f"{name}: {text!r} is not a time of day; write HH:MM, e.g. 12:45")
    return value


def parse_zone(text: str, name: str = "publication-tz") -> ZoneInfo:
    try:
        return ZoneInfo(text)
    except (ValueError, KeyError):
        raise InputError(
            f"{name}: {text!r} is not an IANA time zone such as 'Europe/Brussels'"
        ) from None


@dataclass(frozen=True, slots=True)
class Publication:
    """Prices of local day D+1 appear at `at` local time on day D, in `tz`."""

    at: time = time(12, 45)
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Brussels"))

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=self.tz).astimezone(UTC)

    def moment(self, day: date) -> datetime:
        """When the prices of the day after `day` are published (UTC)."""
        return datetime.combine(day, self.at, tzinfo=self.tz).astimezone(UTC)

    def known_until(self, now: datetime) -> datetime:
        """End of the prices published by `now`: tomorrow's end after publication, else today's."""
        local_day = now.astimezone(self.tz).date()
        days_ahead = 2 if now >= self.moment(local_day) else 1
        return self._midnight(local_day + timedelta(days=days_ahead))

    def next_after(self, now: datetime) -> datetime:
        """The first publication moment strictly after `now`."""
        local_day = now.astimezone(self.tz).date()
        candidate = self.moment(local_day)
        if candidate > now:
            return candidate
        return self.moment(local_day + timedelta(days=1))

    def moments_between(self, start: datetime, end: datetime) -> list[datetime]:
        """Publication moments in `(start, end)`, in order."""
        out = []
        at = self.next_after(start)
        while at < end:
            out.append(at)
            at = self.next_after(at)
        return out


@dataclass(frozen=True, slots=True)
class FetchSchedule:
    """When a feed is asked again: after publication until tomorrow is there, with backoff.

    Before publication there is nothing new to get, so the next fetch is the publication moment.
    After it, while tomorrow is missing, retries back off from `retry_first` doubling to
    `retry_max` (with jitter, so many installations do not hit a provider in step). Once tomorrow
    is in the cache, the next fetch is the next publication.
    """

    publication: Publication = field(default_factory=Publication)
    retry_first: timedelta = timedelta(minutes=2)
    retry_max: timedelta = timedelta(minutes=30)
    jitter: float = 0.1

    def next_fetch(
        self, now: datetime, known_until: datetime | None, retries: int,
        rng: random.Random | None = None,
    ) -> datetime:
        """When to ask again after an attempt at `now` that left `known_until`; `retries` is
        how many attempts in a row did not bring what is published by now."""
        wanted = self.publication.known_until(now)
        if known_until is not None and known_until >= wanted:
            return self.publication.next_after(now)
        if retries <= 0:
            return now
        delay: timedelta = min(self.retry_max, self.retry_first * (2 ** min(retries - 1, 16)))
        # Seeded by the attempt's own time: the same attempt always gets the same retry time
        # (it is recomputed on every wake-up), while installations still spread out.
        spread = (rng or random.Random(now.timestamp())).uniform(-self.jitter, self.jitter)
        return now + delay * (1.0 + spread)
