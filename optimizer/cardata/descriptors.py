"""The CarData descriptor table: which BMW descriptor feeds which normalised vehicle field.

This module is data plus small converters. Adding a descriptor (a new car generation, a second
source for a field) is one row in `DESCRIPTORS`; no parsing code changes. Facts come from BMW's
telematics catalogue and the stream captures summarised in reference/cardata.md §3:

* SoC has four sources of decreasing quality: `batteryManagement.header` (the displayed HV SoC),
  `charging.level` (BMW's own predicted SoC, sent more often while charging on some cars),
  `stateOfCharge.displayed` (Neue Klasse cars, which have no `header`) and the trip-end `hvSoc`
  (last resort). `rank` orders them: when one message carries several, the lowest rank wins.
* Units vary by car and channel (`%` or `percent`, `W` or `kW`, km or mi, sometimes missing), so
  every numeric kind has a unit table; a unit we do not know is not guessed at, the value is kept
  raw instead.
* Enumerations arrive as strings (`CHARGINGACTIVE`, `3-PHASES`, `CONNECTED`) and booleans as JSON
  booleans, strings or `ASN_isTrue`; the value tables below normalise all of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from optimizer.events import ChargingStatus


class ConversionError(ValueError):
    """A descriptor value (or its unit) that cannot be normalised; the caller keeps it raw."""


@dataclass(frozen=True, slots=True)
class Quantity:
    """A numeric kind: the unit it is normalised to, factors from every unit seen on the wire,
    the unit assumed when the message has none (the catalogue unit) and the plausible range."""

    unit: str
    factors: Mapping[str, float]
    default_unit: str
    low: float = -math.inf
    high: float = math.inf


PERCENT = Quantity("%", {"%": 1.0, "percent": 1.0, "pct": 1.0}, "%", 0.0, 100.0)
ENERGY = Quantity("kWh", {"kwh": 1.0, "wh": 0.001, "mwh": 1000.0}, "kWh", 0.0, 1000.0)
POWER = Quantity("kW", {"w": 0.001, "kw": 1.0, "mw": 1000.0}, "W", -1000.0, 1000.0)
DISTANCE = Quantity("km", {"km": 1.0, "mi": 1.609344, "miles": 1.609344, "m": 0.001}, "km",
                    0.0, 2_000_000.0)
VOLTAGE = Quantity("V", {"v": 1.0, "kv": 1000.0}, "V", 0.0, 1000.0)
CURRENT = Quantity("A", {"a": 1.0, "ma": 0.001}, "A", 0.0, 1000.0)
LATITUDE = Quantity("deg", {"degrees": 1.0, "degree": 1.0, "deg": 1.0, "°": 1.0}, "deg",
                    -90.0, 90.0)
LONGITUDE = Quantity("deg", {"degrees": 1.0, "degree": 1.0, "deg": 1.0, "°": 1.0}, "deg",
                     -180.0, 180.0)

STATUS_VALUES: Mapping[str, ChargingStatus] = {
    # vehicle.drivetrain.electricEngine.charging.status (fast; real stream values)
    "NOCHARGING": ChargingStatus.NOT_CHARGING,
    "INITIALIZATION": ChargingStatus.WAITING,
    "CHARGINGACTIVE": ChargingStatus.CHARGING,
    "CHARGINGPAUSED": ChargingStatus.WAITING,
    "CHARGINGENDED": ChargingStatus.FINISHED,
    "CHARGINGERROR": ChargingStatus.ERROR,
    # defensive spellings other clients accept
    "CHARGING_ACTIVE": ChargingStatus.CHARGING,
    "CHARGING_IN_PROGRESS": ChargingStatus.CHARGING,
    # vehicle.drivetrain.electricEngine.charging.hvStatus (slower)
    "CHARGING": ChargingStatus.CHARGING,
    "NOT_CHARGING": ChargingStatus.NOT_CHARGING,
    "WAITING_FOR_CHARGING": ChargingStatus.WAITING,
    "FINISHED_FULLY_CHARGED": ChargingStatus.FINISHED,
    "FINISHED_NOT_FULL": ChargingStatus.FINISHED,
    "ERROR": ChargingStatus.ERROR,
    "INVALID": ChargingStatus.UNKNOWN,
    "UNKNOWN": ChargingStatus.UNKNOWN,
}

BOOLEAN_VALUES: Mapping[str, bool] = {
    "TRUE": True,
    "FALSE": False,
    "ASN_ISTRUE": True,
    "ASN_ISFALSE": False,
    # vehicle.body.chargingPort.status
    "CONNECTED": True,
    "DISCONNECTED": False,
}

PHASE_VALUES: Mapping[str, int] = {
    "NO_CHARGING": 0,
    "1-PHASES": 1,
    "2-PHASES": 2,
    "3-PHASES": 3,
}


def to_number(value: Any) -> float:
    """A finite float from a JSON number or a number sent as a string (`"74"`, `" 11.2 "`)."""
    if isinstance(value, bool):
        raise ConversionError(f"expected a number, got the boolean {value}")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # a JSON integer too large for a float
            raise ConversionError(f"number out of range: {str(value)[:20]}...") from None
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ConversionError(f"expected a number, got {value!r}") from None
    else:
        raise ConversionError(f"expected a number, got {type(value).__name__}")
    if not math.isfinite(number):
        raise ConversionError(f"expected a finite number, got {value!r}")
    return number


def convert_quantity(quantity: Quantity, value: Any, unit: str | None) -> float:
    """`value` in `unit` (the catalogue unit when None) converted to `quantity.unit`."""
    number = to_number(value)
    factor = quantity.factors.get((unit or quantity.default_unit).strip().lower())
    if factor is None:
        raise ConversionError(f"unknown unit {unit!r} for a value in {quantity.unit}")
    number *= factor
    if not quantity.low <= number <= quantity.high:
        raise ConversionError(
            f"{number:g} {quantity.unit} is outside {quantity.low:g}..{quantity.high:g}"
        )
    return number


def _lookup(table: Mapping[str, Any], value: Any, what: str) -> Any:
    if isinstance(value, bool) and table is BOOLEAN_VALUES:
        return value
    if not isinstance(value, str):
        raise ConversionError(f"expected a {what} string, got {type(value).__name__}")
    try:
        return table[value.strip().upper()]
    except KeyError:
        raise ConversionError(f"unknown {what} {value!r}") from None


def _phases(value: Any, unit: str | None) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool) and value in (0, 1, 2, 3):
        return int(value)
    result: int = _lookup(PHASE_VALUES, value, "phase count")
    return result


def _status(value: Any, unit: str | None) -> ChargingStatus:
    result: ChargingStatus = _lookup(STATUS_VALUES, value, "charging status")
    return result


def _boolean(value: Any, unit: str | None) -> bool:
    result: bool = _lookup(BOOLEAN_VALUES, value, "plug state")
    return result


def _quantity(quantity: Quantity) -> Callable[[Any, str | None], float]:
    def convert(value: Any, unit: str | None) -> float:
        return convert_quantity(quantity, value, unit)

    return convert


Converter = Callable[[Any, str | None], Any]


@dataclass(frozen=True, slots=True)
class Descriptor:
    """How one CarData descriptor becomes one normalised field."""

    field: str
    convert: Converter
    unit: str | None
    """The normalised unit carried on the event (None for enums and booleans)."""
    rank: int = 0
    """Lower wins when one message carries several descriptors for the same field."""


_P = "vehicle.powertrain.electric.battery"
_E = "vehicle.drivetrain.electricEngine"
_BM = "vehicle.drivetrain.batteryManagement"
_LOC = "vehicle.cabin.infotainment.navigation.currentLocation"


def _row(field: str, kind: Quantity | Converter, rank: int = 0) -> Descriptor:
    if isinstance(kind, Quantity):
        return Descriptor(field, _quantity(kind), kind.unit, rank)
    return Descriptor(field, kind, None, rank)


DESCRIPTORS: Mapping[str, Descriptor] = {
    f"{_BM}.header": _row("soc_pct", PERCENT, 0),
    f"{_E}.charging.level": _row("soc_pct", PERCENT, 1),
    f"{_P}.stateOfCharge.displayed": _row("soc_pct", PERCENT, 2),
    "vehicle.trip.segment.end.drivetrain.batteryManagement.hvSoc": _row("soc_pct", PERCENT, 3),
    f"{_BM}.maxEnergy": _row("capacity_kwh", ENERGY),
    f"{_P}.charging.power": _row("charging_power_kw", POWER),
    f"{_E}.charging.status": _row("charging_status", _status, 0),
    f"{_E}.charging.hvStatus": _row("charging_status", _status, 1),
    "vehicle.powertrain.tractionBattery.charging.port.anyPosition.isPlugged":
        _row("plugged", _boolean, 0),
    "vehicle.body.chargingPort.status": _row("plugged", _boolean, 1),
    f"{_P}.stateOfCharge.target": _row("target_soc_pct", PERCENT),
    f"{_E}.kombiRemainingElectricRange": _row("range_km", DISTANCE, 0),
    f"{_E}.remainingElectricRange": _row("range_km", DISTANCE, 1),
    "vehicle.vehicle.travelledDistance": _row("odometer_km", DISTANCE),
    f"{_LOC}.latitude": _row("latitude", LATITUDE),
    f"{_LOC}.longitude": _row("longitude", LONGITUDE),
    f"{_E}.charging.acVoltage": _row("ac_voltage_v", VOLTAGE),
    f"{_E}.charging.acAmpere": _row("ac_current_a", CURRENT),
    f"{_E}.charging.phaseNumber": _row("phases", _phases),
}
"""Descriptor string (exactly as on the wire) -> normalised field."""

RAW_PREFIX = "raw:"
"""Field prefix for descriptors we do not map (or cannot normalise): kept, never dropped."""
