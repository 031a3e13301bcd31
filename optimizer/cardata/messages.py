"""Parse one CarData stream message into normalised vehicle events.

The wire envelope (reference/cardata.md §2.4) is

    {"vin", "entityId", "topic", "timestamp", "data": {descriptor: {"timestamp", "value", "unit"}}}

A message carries only the descriptors that changed, each with its own measured timestamp, so
every descriptor becomes its own `VehicleEvent`; deciding whether an event is stale is left to
`optimizer.cardata.state.VehicleState`, which knows what it holds. Parsing is lenient about what
cars really send (numbers as strings, missing or null units, null values, descriptors without a
timestamp) and strict about the envelope: anything that is not one raises `MessageError`, which
callers count and log; it never stops a stream.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from optimizer.cardata.descriptors import DESCRIPTORS, RAW_PREFIX, ConversionError
from optimizer.errors import InputError
from optimizer.events import VehicleEvent
from optimizer.model import require_aware


class MessageError(InputError):
    """A payload that is not a CarData envelope (invalid JSON, missing `vin` or `data`, ...)."""


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
"""Timestamps outside [EARLIEST, LATEST) are a broken clock, not a measurement: they count as
unreadable (and datetime arithmetic near year 9999 would overflow further down)."""


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO-8601 timestamp as a UTC-aware datetime; None when absent, unreadable or outside
    the plausible years 2000-2099.

    BMW stamps everything in UTC with `Z`; a timestamp without an offset is taken as UTC too
    rather than as local time, which would shift it by hours.
    """
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        in_range = EARLIEST <= parsed < LATEST
    except (ValueError, OverflowError):  # OverflowError: an offset that pushes past year 9999
        return None
    return parsed if in_range else None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_message(payload: bytes | str, received_at: datetime | None = None) -> list[VehicleEvent]:
    """One event per descriptor of the message, in the message's order.

    `received_at` is when the message arrived; None (replaying a file) uses the envelope's
    `timestamp`. Descriptors with a null value are skipped (they say nothing). Unknown
    descriptors, and known ones whose value or unit cannot be normalised, become events with
    field `raw:<descriptor>` and the value as sent. Where several descriptors feed the same
    field in one message (header and charging.level for SoC), only the best-ranked one is
    emitted under the field name; the others are kept raw.
    """
    if received_at is not None:
        require_aware("received_at", received_at)
    # Error messages say what is wrong, never what the payload holds: a file that is not a
    # recording (or a message with someone's location in it) is not echoed into logs.
    try:
        envelope = json.loads(payload, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise MessageError("CarData message is not UTF-8 text") from None
    except (ValueError, RecursionError) as exc:
        raise MessageError(f"CarData message is not valid JSON ({exc})") from None
    if not isinstance(envelope, dict):
        raise MessageError("CarData message is not a JSON object")
    vin = envelope.get("vin")
    if not isinstance(vin, str) or not vin:
        raise MessageError("CarData message has no 'vin'")
    if len(vin) > 64 or not vin.isprintable():
        raise MessageError("CarData message has a 'vin' that is not a VIN")
    data = envelope.get("data")
    if not isinstance(data, dict):
        raise MessageError(f"CarData message for {vin} has no 'data' object")
    sent_at = parse_timestamp(envelope.get("timestamp"))
    if received_at is None:
        received_at = sent_at
    if sent_at is None:
        sent_at = received_at
    if sent_at is None or received_at is None:
        raise MessageError(
            f"CarData message for {vin} has no valid 'timestamp' (ISO 8601, years "
            f"{EARLIEST.year}-{LATEST.year - 1}) and no arrival time was given"
        )

    return _events(vin, data, sent_at, received_at)


def parse_telematic_data(vin: str, data: Any, received_at: datetime) -> list[VehicleEvent]:
    """Events from a REST `telematicData` object (same per-descriptor shape as the stream,
    all values strings, never-seen keys all null); entries without a timestamp are stamped
    `received_at`."""
    require_aware("received_at", received_at)
    if not isinstance(data, dict):
        raise MessageError(f"telematicData for {vin} is not a JSON object")
    return _events(vin, data, received_at, received_at)


def _events(vin: str, data: dict[str, Any], sent_at: datetime,
            received_at: datetime) -> list[VehicleEvent]:
    """One event per non-null descriptor of `data`; see `parse_message` for the rules."""
    events: list[VehicleEvent] = []
    # field -> (rank, index into events, the raw form of that event) for the rank contest
    best: dict[str, tuple[int, int, VehicleEvent]] = {}
    for name, entry in data.items():
        if not isinstance(entry, dict):
            entry = {"value": entry}
        value = entry.get("value")
        if value is None:
            continue
        unit = entry.get("unit")
        if not isinstance(unit, str):
            unit = None
        measured_at = parse_timestamp(entry.get("timestamp")) or sent_at
        raw = VehicleEvent(vin, RAW_PREFIX + name, value, measured_at, received_at, unit)
        descriptor = DESCRIPTORS.get(name)
        if descriptor is None:
            events.append(raw)
            continue
        try:
            normalised = descriptor.convert(value, unit)
        except ConversionError:
            events.append(raw)
            continue
        event = VehicleEvent(vin, descriptor.field, normalised, measured_at, received_at,
                             descriptor.unit)
        held = best.get(descriptor.field)
        if held is None:
            best[descriptor.field] = (descriptor.rank, len(events), raw)
            events.append(event)
        elif descriptor.rank < held[0]:
            # the better source takes the field; the one it displaces is kept raw
            _, index, displaced = held
            events[index] = event
            events.append(displaced)
            best[descriptor.field] = (descriptor.rank, index, raw)
        else:
            events.append(raw)
    return events


def message_record(vin: str, received_at: datetime,
                   events: list[VehicleEvent]) -> dict[str, Any]:
    """One message as the `stream --json` line: vin, times, and its normalised fields.

    `measured_at` is the newest descriptor timestamp in the message (what the car last
    measured), or the arrival time when the message carried nothing usable.
    """
    record: dict[str, Any] = {
        "vin": events[0].vin if events else vin,
        "received_at": received_at.isoformat(),
        "measured_at": max((e.measured_at for e in events), default=received_at).isoformat(),
    }
    for event in events:
        if not event.field.startswith(RAW_PREFIX):
            record[event.field] = event.value
    return record
