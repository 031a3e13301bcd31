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
from optimizer.model import VehicleEvent, require_aware


class MessageError(InputError):
    """A payload that is not a CarData envelope (invalid JSON, missing `vin` or `data`, ...)."""


_SNIPPET = 60


def _snippet(payload: bytes | str) -> str:
    text = payload if isinstance(payload, str) else payload[:_SNIPPET * 4].decode("utf-8",
                                                                                  "replace")
    return repr(text[:_SNIPPET] + ("..." if len(text) > _SNIPPET else ""))


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO-8601 timestamp as a UTC-aware datetime; None when absent or unreadable.

    BMW stamps everything in UTC with `Z`; a timestamp without an offset is taken as UTC too
    rather than as local time, which would shift it by hours.
    """
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed


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
    try:
        envelope = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise MessageError(f"CarData message is not valid JSON ({exc}): {_snippet(payload)}"
                           ) from None
    if not isinstance(envelope, dict):
        raise MessageError(f"CarData message is not a JSON object: {_snippet(payload)}")
    vin = envelope.get("vin")
    if not isinstance(vin, str) or not vin:
        raise MessageError(f"CarData message has no 'vin': {_snippet(payload)}")
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
            f"CarData message for {vin} has no valid 'timestamp' "
            f"(got {envelope.get('timestamp')!r}) and no arrival time was given"
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
