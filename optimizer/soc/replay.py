"""Drive estimators from recorded data: CarData JSONL streams and wallbox meter CSVs.

`replay_stream` is the engine behind `ev-optimizer estimate`: it walks the stream in arrival
order, feeds each message's events to that VIN's estimator (one per VIN, kept for the whole
file, so what one session teaches carries over to the next), feeds meter readings in time
order, and yields the estimates every `every_s` seconds from the first message's time to the
last. An estimate at time T only uses what had arrived by T, exactly as the live service would.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from optimizer.cardata.messages import (
    EARLIEST,
    LATEST,
    MessageError,
    parse_message,
    parse_timestamp,
)
from optimizer.cardata.recording import RecordedLine
from optimizer.errors import InputError
from optimizer.events import SocEstimate, VehicleEvent
from optimizer.soc.estimator import EstimatorSettings, SocEstimator
from optimizer.soc.learning import LearnedVehicle

log = logging.getLogger(__name__)


class Estimates(Protocol):
    """What a replay needs from an estimator (the real one or the linear baseline)."""

    def ingest(self, event: VehicleEvent) -> None: ...

    def add_meter(self, measured_at: datetime, energy_kwh: float) -> None: ...

    def estimate(self, now: datetime) -> SocEstimate | None: ...


def learned_key(vin: str) -> str:
    """The `Store` key under which a vehicle's learned efficiency and taper are kept."""
    return f"soc/learned/{vin}"


@dataclass(slots=True)
class Fleet:
    """One estimator per VIN, created on the VIN's first event."""

    factory: Callable[[str], Estimates]
    estimators: dict[str, Estimates] = field(default_factory=dict)
    meter: list[tuple[datetime, float]] = field(default_factory=list)
    """Readings of a wallbox without a VIN: every estimator is offered them (each one checks
    that the meter agrees with its own car before trusting it)."""

    def get(self, vin: str) -> Estimates:
        held = self.estimators.get(vin)
        if held is None:
            held = self.estimators[vin] = self.factory(vin)
            for at, energy in self.meter:
                held.add_meter(at, energy)
        return held

    def ingest(self, events: Iterable[VehicleEvent]) -> None:
        for event in events:
            self.get(event.vin).ingest(event)

    def add_meter(self, measured_at: datetime, energy_kwh: float) -> None:
        self.meter.append((measured_at, energy_kwh))
        for estimator in self.estimators.values():
            estimator.add_meter(measured_at, energy_kwh)


def estimator_factory(capacity_kwh: float | None = None,
                      learned: Callable[[str], LearnedVehicle | None] | None = None
                      ) -> Callable[[str], Estimates]:
    settings = EstimatorSettings(fallback_capacity_kwh=capacity_kwh)

    def make(vin: str) -> Estimates:
        return SocEstimator(vin, learned(vin) if learned is not None else None, settings)

    return make


MAX_METER_KWH = 1_000_000.0
"""A cumulative wallbox meter reading above this (1 GWh) is a broken register, not energy."""
MAX_METER_FILE_BYTES = 256 << 20
MIN_EVERY_S = 1.0
MAX_EVERY_S = 86_400.0
MAX_TICKS = 1_000_000
"""Estimates per car in one replay: a month at one per 3 s, a century never (a timestamp far
from the rest would otherwise make the replay run for ever)."""


def check_every(every_s: float) -> float:
    """The output interval, finite and within [MIN_EVERY_S, MAX_EVERY_S]."""
    if not MIN_EVERY_S <= every_s <= MAX_EVERY_S:  # also False for NaN
        raise InputError(f"--every must be between {MIN_EVERY_S:g} and {MAX_EVERY_S:g} "
                         f"seconds, got {every_s:g}")
    return every_s


def read_meter_csv(path: Path) -> list[tuple[datetime, float]]:
    """`time,energy_kwh` rows (ISO-8601 with offset, cumulative kWh), sorted by time.

    Every problem is one `InputError` naming the file and line and saying what is wrong,
    without quoting the file (it may not be a meter file at all).
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_METER_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"meter file {path}: {exc.strerror}") from None
    if len(data) > MAX_METER_FILE_BYTES:
        raise InputError(f"meter file {path}: larger than {MAX_METER_FILE_BYTES >> 20} MiB; "
                         f"a meter CSV has one short row per reading")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InputError(f"meter file {path} line {line}: not UTF-8 text; save it as UTF-8 "
                         f"CSV") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        readings = _meter_rows(path, reader)
    except csv.Error as exc:
        raise InputError(f"meter file {path} line {reader.line_num + 1}: not a CSV row "
                         f"({str(exc).split(' (', 1)[0]})") from None
    readings.sort(key=lambda r: r[0])
    return readings


def _meter_rows(path: Path, reader: csv.DictReader[str]) -> list[tuple[datetime, float]]:
    fields = reader.fieldnames
    if fields is None or not {"time", "energy_kwh"} <= set(fields):
        missing = [f for f in ("time", "energy_kwh") if fields is None or f not in fields]
        raise InputError(f"meter file {path}: the first line must be the header "
                         f"'time,energy_kwh' (missing: {', '.join(missing)})")
    readings = []
    for row in reader:
        line = reader.line_num
        if None in row or None in row.values():
            raise InputError(f"meter file {path} line {line}: {len(fields)} fields expected "
                             f"as in the header (a decimal comma? write 12.5, not 12,5)")
        text = row["time"]
        at = parse_timestamp(text)
        if at is None or datetime.fromisoformat(text).tzinfo is None:
            raise InputError(f"meter file {path} line {line}: time must be ISO 8601 with a UTC "
                             f"offset in the years {EARLIEST.year}-{LATEST.year - 1}, like "
                             f"2026-01-01T09:00:00Z")
        try:
            energy = float(row["energy_kwh"])
        except ValueError:
            raise InputError(f"meter file {path} line {line}: energy_kwh is not a number"
                             ) from None
        if not 0.0 <= energy <= MAX_METER_KWH:  # also False for NaN
            raise InputError(f"meter file {path} line {line}: energy_kwh must be a finite "
                             f"cumulative reading between 0 and {MAX_METER_KWH:,.0f} kWh")
        readings.append((at, energy))
    return readings


@dataclass(slots=True)
class ReplayStats:
    messages: int = 0
    bad_lines: list[int] = field(default_factory=list)
    first_problem: str | None = None
    """What was wrong with the first bad line (no content from it)."""

    def bad(self, number: int, problem: str) -> None:
        if self.first_problem is None:
            self.first_problem = f"line {number}: {problem}"
        self.bad_lines.append(number)


def replay_stream(lines: Iterable[RecordedLine], fleet: Fleet, every_s: float,
                  meter: Iterable[tuple[datetime, float]] = (),
                  stats: ReplayStats | None = None, source: str = "stream"
                  ) -> Iterator[SocEstimate]:
    """Estimates every `every_s` seconds, for every VIN that has an SoC, in stream order.

    A line that is not a CarData message is skipped and counted (a recorder may have cut a
    line); nothing else is lost. A message so far from the first one that the replay would
    take more than `MAX_TICKS` estimates raises `InputError` naming its line.
    """
    check_every(every_s)
    stats = stats if stats is not None else ReplayStats()
    step = timedelta(seconds=every_s)
    readings = iter(meter)
    reading = next(readings, None)

    def emit(now: datetime) -> Iterator[SocEstimate]:
        nonlocal reading
        while reading is not None and reading[0] <= now:
            fleet.add_meter(*reading)
            reading = next(readings, None)
        yield from _tick(fleet, now)

    # the hot loop: one pass per message, no per-line work beyond parsing and dispatch
    estimators = fleet.estimators
    messages = 0
    tick: datetime | None = None
    last_time: datetime | None = None
    first_line = 0
    horizon: datetime | None = None
    for line in lines:
        if line.text is None:
            stats.bad(line.number, line.problem or "unreadable")
            continue
        try:
            events = parse_message(line.text)
        except MessageError as exc:
            stats.bad(line.number, str(exc))
            log.debug("%s line %d skipped: %s", source, line.number, exc)
            continue
        messages += 1
        if not events:
            continue
        first = events[0]
        at = first.received_at
        if tick is None or last_time is None or horizon is None:
            tick = last_time = at
            first_line = line.number
            horizon = at + step * MAX_TICKS
        elif at > last_time:
            if at > horizon:
                raise InputError(
                    f"{source} line {line.number}: its time is {(at - tick).days} days after "
                    f"the first message's (line {first_line}); at --every {every_s:g} that is "
                    f"more than {MAX_TICKS:,} estimates per car. Check that line's timestamp, "
                    f"or pass a larger --every")
            last_time = at
            while tick < at:
                yield from emit(tick)
                tick += step
        estimator = estimators.get(first.vin) or fleet.get(first.vin)
        for event in events:  # one message, one VIN
            estimator.ingest(event)
    stats.messages += messages
    if tick is None or last_time is None:
        return
    while tick <= last_time:
        yield from emit(tick)
        tick += step


def _tick(fleet: Fleet, now: datetime) -> Iterator[SocEstimate]:
    for estimator in fleet.estimators.values():
        estimate = estimator.estimate(now)
        if estimate is not None:
            yield estimate


def format_time(at: datetime) -> str:
    """UTC ISO-8601 with `Z`, to the second (what BMW stamps too)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
