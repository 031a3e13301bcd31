"""Pure conversions from a plan's power to the current limits a wallbox understands.

Every charger family shares these rules, so they live here once: a current below the device
minimum (6 A by IEC 61851; below that the car does not charge at all) means off, anything above
the maximum is cut to the maximum, and 0 A is what each driver turns into its own "off" (a
stop, a pause flag, a 0 setpoint).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from optimizer.model import ChargePlan


@dataclass(frozen=True, slots=True)
class CurrentRange:
    """The electrical side of a charging point, as configured in `[[chargers]]`."""

    phases: int
    voltage_v: float
    min_current_a: float
    max_current_a: float

    def clamp_a(self, current_a: float) -> float:
        """Below the minimum is 0 (off); above the maximum is the maximum."""
        if current_a <= 0 or current_a < self.min_current_a:
            return 0.0
        return min(current_a, self.max_current_a)

    def current_for_power_a(self, power_kw: float) -> float:
        if power_kw <= 0:
            return 0.0
        return self.clamp_a(power_kw * 1000.0 / (self.phases * self.voltage_v))


@dataclass(frozen=True, slots=True)
class CurrentPeriod:
    """`current_a` applies during `[start, end)`."""

    start: datetime
    end: datetime
    current_a: float


def plan_periods(
    plan: ChargePlan, limits: CurrentRange, *, decimals: int | None = None
) -> list[CurrentPeriod]:
    """The plan as consecutive current periods, equal neighbours merged.

    `decimals` rounds each limit down first (OCPP 1.6 only accepts multiples of 0.1 A), so
    merging sees the values the device will really get. Gaps between slots become 0 A periods
    so the periods tile the plan from its first start to its last end.
    """
    periods: list[CurrentPeriod] = []
    for slot in sorted(plan.slots, key=lambda s: s.start):
        current_a = limits.current_for_power_a(slot.power_kw)
        if decimals is not None:
            current_a = limits.clamp_a(step_down(current_a, decimals))
        if periods and periods[-1].end < slot.start:
            periods.append(CurrentPeriod(periods[-1].end, slot.start, 0.0))
        if periods and periods[-1].current_a == current_a and periods[-1].end == slot.start:
            periods[-1] = CurrentPeriod(periods[-1].start, slot.end, current_a)
        else:
            periods.append(CurrentPeriod(slot.start, slot.end, current_a))
    return periods


def step_down(current_a: float, decimals: int) -> float:
    """`current_a` rounded down to `decimals` places, never up: a device is never sent more than
    the plan's power, so the limits of cars that share a site never add up past it (rounding to
    the nearest step let two of them exceed it by a step). Within 1e-6 A below a step counts as
    on it, so 16 A worked out as 15.9999999 A stays 16 A."""
    scale = 10.0**decimals
    return math.floor(current_a * scale + 1e-6) / scale


def current_at(periods: Sequence[CurrentPeriod], at: datetime) -> float:
    """The limit in force at `at`; 0 outside the plan (the safe state)."""
    for period in periods:
        if period.start <= at < period.end:
            return period.current_a
    return 0.0
