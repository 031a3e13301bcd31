"""What we currently know about one vehicle, field by field, newest measurement wins.

BMW re-sends every selected value on some events, including stale ones with their old measured
timestamps (reference/cardata.md §2.4); applying those blindly pulls the SoC backwards. So each
field remembers the `measured_at` of the value it holds and refuses anything older.
Latitude and longitude arrive in separate messages; `position()` pairs them by their measured
timestamps so a new latitude is never combined with the previous fix's longitude.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from optimizer.events import VehicleEvent

POSITION_PAIRING = timedelta(seconds=2)
"""Latitude and longitude measured this close together belong to the same fix."""


@dataclass(frozen=True, slots=True)
class Held:
    value: Any
    measured_at: datetime
    unit: str | None


@dataclass(slots=True)
class VehicleState:
    """Per-vehicle latest values; `apply` is the only way in."""

    vin: str
    fields: dict[str, Held] = field(default_factory=dict)

    def apply(self, event: VehicleEvent) -> bool:
        """Take `event` if it is newer than what the field holds; True if the state changed.

        An event with the same timestamp and value as the held one is a re-send (False); the
        same timestamp with a different value is taken, since it is the later report of that
        instant (e.g. header and charging.level stamped in the same second).
        """
        if event.vin != self.vin:
            raise ValueError(f"event for {event.vin} applied to the state of {self.vin}")
        held = self.fields.get(event.field)
        if held is not None:
            if event.measured_at < held.measured_at:
                return False
            if event.measured_at == held.measured_at and event.value == held.value:
                return False
        self.fields[event.field] = Held(event.value, event.measured_at, event.unit)
        return True

    def get(self, name: str) -> Any:
        held = self.fields.get(name)
        return None if held is None else held.value

    def position(self) -> tuple[float, float, datetime] | None:
        """(latitude, longitude, measured_at) when both halves of the same fix are held."""
        lat = self.fields.get("latitude")
        lon = self.fields.get("longitude")
        if lat is None or lon is None:
            return None
        if abs(lat.measured_at - lon.measured_at) > POSITION_PAIRING:
            return None
        return lat.value, lon.value, max(lat.measured_at, lon.measured_at)

