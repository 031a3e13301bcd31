"""Drive estimators from recorded data: CarData JSONL streams and wallbox meter CSVs.

`replay_stream` is the engine behind `ev-optimizer estimate`: it walks the stream in arrival
order, feeds each message's events to that VIN's estimator (one per VIN, kept for the whole
file, so what one session teaches carries over to the next), feeds meter readings in time
order, and yields the estimates every `every_s` seconds from the first message's time to the
last. An estimate at time T only uses what had arrived by T, exactly as the live service would.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from optimizer.cardata.messages import MessageError, parse_message
from optimizer.errors import InputError
from optimizer.model import SocEstimate, VehicleEvent
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


def read_meter_csv(path: Path) -> list[tuple[datetime, float]]:
    """`time,energy_kwh` rows (ISO-8601 with offset, cumulative kWh), sorted by time."""
    try:
        handle = path.open(newline="")
    except OSError as exc:
        raise InputError(f"meter file {path}: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"time", "energy_kwh"} <= set(reader.fieldnames):
            raise InputError(f"meter file {path}: needs a header 'time,energy_kwh', "
                             f"got {reader.fieldnames}")
        readings = []
        for line, row in enumerate(reader, start=2):
            try:
                at = datetime.fromisoformat(row["time"])
                energy = float(row["energy_kwh"])
            except (TypeError, ValueError):
                raise InputError(f"meter file {path} line {line}: cannot read time "
                                 f"{row['time']!r} / energy_kwh {row['energy_kwh']!r}") from None
            if at.tzinfo is None:
                raise InputError(f"meter file {path} line {line}: time {row['time']!r} has no "
                                 f"UTC offset; write it like 2026-01-01T09:00:00Z")
            readings.append((at, energy))
    readings.sort(key=lambda r: r[0])
    return readings


@dataclass(slots=True)
class ReplayStats:
    messages: int = 0
    bad_lines: list[int] = field(default_factory=list)


def replay_stream(lines: Iterable[str], fleet: Fleet, every_s: float,
                  meter: Iterable[tuple[datetime, float]] = (),
                  stats: ReplayStats | None = None, source: str = "stream"
                  ) -> Iterator[SocEstimate]:
    """Estimates every `every_s` seconds, for every VIN that has an SoC, in stream order.

    A line that is not a CarData message is skipped with a warning naming it (a recorder may
    have cut a line); nothing else is lost.
    """
    if every_s <= 0:
        raise InputError(f"--every must be positive, got {every_s:g}")
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
    for number, line in enumerate(lines, start=1):
        try:
            events = parse_message(line)
        except MessageError as exc:
            if line.strip():
                stats.bad_lines.append(number)
                log.debug("%s line %d skipped: %s", source, number, exc)
            continue
        messages += 1
        if not events:
            continue
        first = events[0]
        at = first.received_at
        if tick is None or last_time is None:
            tick = last_time = at
        elif at > last_time:
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
