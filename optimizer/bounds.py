"""The physical range of every planning number, defined once and checked once, at the edge.

The CLI flags, the `--batch` keys, config.toml and the tariff files all take their limits from
here, so a number that is not finite, or outside what a car, a wallbox or a price can be, is
refused with its name before it reaches the planner (where `inf` would plan a 170 kW slot and
`nan` would print `"cost": NaN`, which is not JSON).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from optimizer.errors import InputError, quoted

MAX_HORIZON = timedelta(days=14)
"""The longest plan: day-ahead prices reach 1.5 days ahead, a departure two weeks out is the most
anyone schedules, and a longer horizon only grows the solver's work (a year-9999 departure took
7 GB before this cap)."""


@dataclass(frozen=True, slots=True)
class Range:
    """A closed range `[low, high]` (open at `low` when `low_open`), in `unit`."""

    low: float
    high: float
    unit: str = ""
    low_open: bool = False
    integer: bool = False

    def describe(self) -> str:
        low = f"{self.low:g}"
        kind = "a whole number" if self.integer else "a number"
        lower = f"above {low}" if self.low_open else f"from {low}"
        unit = f" {self.unit}" if self.unit else ""
        return f"{kind} {lower} to {self.high:g}{unit}"

    def contains(self, value: float) -> bool:
        if not math.isfinite(value) or value > self.high:
            return False
        return value > self.low if self.low_open else value >= self.low

    def check(self, name: str, value: Any) -> float:
        """`value` as a float if it is a number within range (not a bool, not a string)."""
        kind = type(value)  # a float or an int first: every number of a batch line comes here
        if kind is not float and kind is not int and (
                isinstance(value, bool) or not isinstance(value, int | float)):
            raise InputError(f"{name}: {quoted(value)} is not a number; use {self.describe()}")
        if self.integer and isinstance(value, float) and not value.is_integer():
            raise InputError(f"{name}: {value!r} is not a whole number; use {self.describe()}")
        number = float(value) if isinstance(value, float) or abs(value) < 2**63 else math.inf
        if not self.contains(number):
            raise InputError(f"{name}: {quoted(value)} is out of range; use {self.describe()}")
        return number

    def field(self, default: Any = ...) -> Any:
        """A strict pydantic field with this range: no strings, no bools, nothing non-finite."""
        # Imported here: `plan --prices` and `--batch` check ranges without loading pydantic,
        # which would be most of their start-up time.
        from pydantic import Field

        return Field(
            default,
            strict=True,
            gt=self.low if self.low_open else None,
            ge=None if self.low_open else self.low,
            le=self.high,
            allow_inf_nan=None if self.integer else False,
        )


PERCENT = Range(0.0, 100.0, "%")
PRICE = Range(-10_000.0, 10_000.0, "per kWh")
"""Currency per kWh: wide enough for negative spot prices and for currencies with small units."""
MINUTES = Range(0, 24 * 60, "minutes", integer=True)

SOC = PERCENT
CAPACITY_KWH = Range(1.0, 250.0, "kWh")
"""From 1 kWh: a smaller battery is a typo, and near 0 the SoC per kWh overflows."""
POWER_KW = Range(0.0, 500.0, "kW", low_open=True)
MIN_POWER_KW = Range(0.0, 500.0, "kW")
EFFICIENCY = Range(0.5, 1.0, low_open=True)
START_PENALTY = Range(0.0, 10_000.0, "per start")
OPPORTUNISTIC_LIMIT = Range(0.0, 100.0, "%", low_open=True)

DEPOT_CAPACITY_KWH = Range(1.0, 2_000.0, "kWh")
"""A battery in a fleet plan (`plan --fleet`): from a car to an electric bus or truck."""
DEPOT_POWER_KW = Range(0.0, 4_000.0, "kW", low_open=True)
"""A charger in a fleet plan: a megawatt charger for trucks delivers up to 3.75 MW; more is a
unit mistake."""
SITE_POWER_KW = Range(0.0, 100_000.0, "kW", low_open=True)
"""A site limit above 100 MW is a unit mistake (W for kW), not a site."""
PRIORITY = Range(-1e6, 1e6)

PLAN_NUMBERS: dict[str, Range] = {
    "soc": SOC,
    "target": PERCENT,
    "capacity": CAPACITY_KWH,
    "max_power": POWER_KW,
    "min_power": MIN_POWER_KW,
    "efficiency": EFFICIENCY,
    "min_run": MINUTES,
    "start_penalty": START_PENALTY,
    "buffer": MINUTES,
    "min_soc": PERCENT,
    "opportunistic_limit": OPPORTUNISTIC_LIMIT,
    "price_cap": PRICE,
    "unknown_price": PRICE,
}
"""Every number of a plan, by its name as a `--batch` key (the flag is the same with dashes)."""

FLEET_NUMBERS: dict[str, Range] = {
    "soc": SOC,
    "target": PERCENT,
    "capacity": DEPOT_CAPACITY_KWH,
    "max_power": DEPOT_POWER_KW,
    "efficiency": EFFICIENCY,
    "priority": PRIORITY,
    "min_soc": PERCENT,
}
"""A fleet file's vehicle numbers, by key (`min_power` is checked against its `max_power`)."""
