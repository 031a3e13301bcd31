"""Charging sessions for the backtest: from a CSV file or a commute rule, checked up front.

A session is plug-in (`arrival`), plug-out (`departure`) and the grid-side energy the car wants
by departure. Rows are numbered as the person sees them: row 1 is the first line after the
header, so a message such as "rows 4 and 5 overlap" points straight at the file.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import pairwise
from pathlib import Path

from optimizer.errors import InputError
from optimizer.tariffs import _DAY_NAMES, _parse_ranges
from optimizer.times import parse_time

COLUMNS = ("arrival", "departure", "energy_kwh")


@dataclass(frozen=True, slots=True)
class Session:
    row: int
    """1-based row in the sessions file (or plug-in day number for a commute)."""
    arrival: datetime
    departure: datetime
    energy_kwh: float

    @property
    def hours(self) -> float:
        return (self.departure - self.arrival).total_seconds() / 3600.0


def read_sessions_csv(path: Path) -> list[Session]:
    """Read `arrival,departure,energy_kwh` rows; every problem names the file and row."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: sessions file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the sessions file: {exc.strerror}") from None
    sessions = []
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise InputError(
                f"{path}: missing column '{missing[0]}'; the header has "
                f"{', '.join(header) or 'nothing'} but needs {', '.join(COLUMNS)}"
            )
        for number, row in enumerate(reader, start=1):
            where = f"{path}: row {number}"
            arrival = parse_time(row["arrival"] or "", f"{where}: arrival").astimezone(UTC)
            departure = parse_time(row["departure"] or "", f"{where}: departure").astimezone(UTC)
            raw = (row["energy_kwh"] or "").strip()
            try:
                energy = float(raw)
            except ValueError:
                raise InputError(f"{where}: energy_kwh {raw!r} is not a number of kWh") from None
            if not math.isfinite(energy) or energy < 0:
                raise InputError(f"{where}: energy_kwh {raw!r} must be a kWh value >= 0")
            if departure <= arrival:
                raise InputError(f"{where}: departure is not after arrival")
            sessions.append(Session(number, arrival, departure, energy))
    if not sessions:
        raise InputError(f"{path}: no sessions; the file needs at least one row")
    return sessions


_COMMUTE = re.compile(
    r"^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*,\s*([0-9.]+)\s*kwh\s*(?:,\s*(.+?))?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Commute:
    plug_in: time
    plug_out: time
    energy_kwh: float
    days: frozenset[int]
    """Plug-in weekdays, Mon=0."""

    @classmethod
    def parse(cls, text: str) -> Commute:
        """'18:00-07:30,22kWh,Mon-Fri' (days are optional and default to every day)."""
        match = _COMMUTE.match(text)
        hint = "write it like '18:00-07:30,22kWh,Mon-Fri'"
        if match is None:
            raise InputError(f"commute: {text!r} is not PLUGIN-PLUGOUT,ENERGYkWh[,DAYS]; {hint}")
        try:
            plug_in = time.fromisoformat(f"{int(match[1][:-3]):02d}{match[1][-3:]}")
            plug_out = time.fromisoformat(f"{int(match[2][:-3]):02d}{match[2][-3:]}")
            energy = float(match[3])
            days = _parse_ranges(match[4] or "Mon-Sun", 0, 6, _DAY_NAMES)
        except ValueError as exc:
            raise InputError(f"commute: {text!r}: {exc}; {hint}") from None
        if plug_in == plug_out:
            raise InputError(f"commute: {text!r} plugs in and out at the same time; {hint}")
        return cls(plug_in, plug_out, energy, days)

    def sessions(self, start: datetime, end: datetime, tz: tzinfo) -> list[Session]:
        """One session per plug-in day whose plug-in and departure lie inside `[start, end]`.

        The days name plug-in days: with 18:00-07:30 Friday's session leaves on Saturday.
        """
        out = []
        day: date = start.astimezone(tz).date() - timedelta(days=1)
        last = end.astimezone(tz).date()
        number = 0
        while day <= last:
            if day.weekday() in self.days:
                arrival = datetime.combine(day, self.plug_in, tzinfo=tz).astimezone(UTC)
                out_day = day + timedelta(days=1) if self.plug_out <= self.plug_in else day
                departure = datetime.combine(out_day, self.plug_out, tzinfo=tz).astimezone(UTC)
                if start <= arrival and departure <= end:
                    number += 1
                    out.append(Session(number, arrival, departure, self.energy_kwh))
            day += timedelta(days=1)
        return out


def _rows(items: Sequence[Session]) -> str:
    shown = ", ".join(str(s.row) for s in items[:10])
    more = f" and {len(items) - 10} more" if len(items) > 10 else ""
    return f"{shown}{more}"


def check_sessions(
    sessions: Sequence[Session], prices_start: datetime, prices_end: datetime, source: str
) -> list[Session]:
    """Sessions sorted by arrival; overlapping ones or ones outside the prices are an error."""
    outside = [s for s in sessions if s.arrival < prices_start or s.departure > prices_end]
    if outside:
        raise InputError(
            f"{source}: row{'s' if len(outside) > 1 else ''} {_rows(outside)} "
            f"{'lie' if len(outside) > 1 else 'lies'} outside the prices "
            f"({prices_start.isoformat()} to {prices_end.isoformat()}); drop "
            f"{'them' if len(outside) > 1 else 'it'} or give prices that cover "
            f"{'them' if len(outside) > 1 else 'it'}"
        )
    ordered = sorted(sessions, key=lambda s: (s.arrival, s.row))
    clashes = [
        f"{a.row} and {b.row}" for a, b in pairwise(ordered)
        if b.arrival < a.departure
    ]
    if clashes:
        more = f" and {len(clashes) - 5} more pairs" if len(clashes) > 5 else ""
        raise InputError(
            f"{source}: sessions overlap (rows {'; '.join(clashes[:5])}{more}); one car "
            f"charges one session at a time, so split the file per car"
        )
    return ordered
