"""The facts that flow through the service: what the car, the wallbox and the estimator
report (events, meter readings, SoC estimates, charger states), and the notifications told to
the owner.

Kept apart from `optimizer.model` (prices and plans), which `plan` and its batches import: these
types are not needed there, and each frozen dataclass costs its import about a millisecond.
Units are in the names, every datetime is timezone-aware, as in `optimizer.model`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class ChargingStatus(enum.StrEnum):
    """The car's charging state, normalised from CarData's `charging.status` / `hvStatus`."""

    CHARGING = "charging"
    NOT_CHARGING = "not_charging"
    FINISHED = "finished"
    WAITING = "waiting"
    ERROR = "error"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class VehicleEvent:
    """One normalised fact about a vehicle, as the CarData stream (or REST) reported it.

    A stream message can carry several descriptors with their own timestamps, so each becomes its
    own event: staleness is decided per field by `measured_at`, not per message.
    `field` is one of the names in `VEHICLE_FIELDS`, or `raw:<descriptor>` for descriptors we do
    not map (kept so nothing is lost).
    """

    vin: str
    field: str
    value: Any
    measured_at: datetime
    received_at: datetime
    unit: str | None = None


VEHICLE_FIELDS: tuple[str, ...] = (
    "soc_pct",
    "capacity_kwh",
    "charging_power_kw",
    "charging_status",
    "plugged",
    "target_soc_pct",
    "range_km",
    "odometer_km",
    "latitude",
    "longitude",
    "ac_voltage_v",
    "ac_current_a",
    "phases",
)
"""Normalised vehicle fields; the CLI and the estimator use exactly these names."""


@dataclass(frozen=True, slots=True)
class MeterReading:
    """A wallbox meter sample: cumulative energy and, when known, instantaneous power."""

    charger: str
    measured_at: datetime
    energy_kwh: float | None = None
    power_kw: float | None = None


@dataclass(frozen=True, slots=True)
class SocEstimate:
    """The estimated SoC at `at`, with an honest band around it."""

    vin: str
    at: datetime
    soc_pct: float
    soc_low_pct: float
    soc_high_pct: float


class ChargerState(enum.StrEnum):
    AVAILABLE = "available"
    PLUGGED = "plugged"
    CHARGING = "charging"
    FAULT = "fault"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ChargerStatus:
    state: ChargerState
    power_kw: float | None = None
    energy_kwh: float | None = None
    current_limit_a: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


class NotificationKind(enum.StrEnum):
    """What a notification is about; the `[notify]` config selects kinds by these names."""

    PLAN = "plan"
    CHARGING_STARTED = "charging_started"
    CHARGING_STOPPED = "charging_stopped"
    TARGET_UNREACHABLE = "target_unreachable"
    SESSION_ENDED = "session_ended"
    ATTENTION = "attention"


@dataclass(frozen=True, slots=True)
class Notification:
    """A message for the person, decided by the core and delivered by a `Notifier`.

    `dedupe_key` names the fact (say "plan:iX1:<session>:<start>:<end>"): two notifications with
    the same key are one message, so a re-plan that changes nothing material sends nothing.
    """

    kind: NotificationKind
    vehicle: str | None
    title: str
    body: str
    dedupe_key: str
    created_at: datetime
