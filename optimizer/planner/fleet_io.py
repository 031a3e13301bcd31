"""`plan --fleet FILE.json`: the fleet file, checked strictly at the edge, and the plan as JSON.

The input and output keys are a contract checked from outside; keep them exactly:
input `{"prices", "now", "site_max_power_kw", "vehicles": [{"name", "soc", "target",
"capacity", "departure", "max_power", "min_power"?, "efficiency"?, "priority"?, "min_soc"?}]}`,
output `{"feasible", "cost", "vehicles": [{"name", "feasible", "energy_kwh", "shortfall_kwh",
"cost", "soc_at_departure_pct", "slots": [{"start", "end", "power_kw", "energy_kwh",
"price"}]}]}` (plus informative keys: `method`, `mip_gap`, a vehicle's `reason`, a slot's
`provisional`, the plan's `reason` when prices are missing). Numbers are printed unrounded.

Every problem is one line naming the value, as `vehicles[1].max_power: ...`.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from optimizer.bounds import FLEET_NUMBERS, SITE_POWER_KW, Range
from optimizer.errors import InputError
from optimizer.planner import DEFAULT_EFFICIENCY, check_horizon
from optimizer.planner.fleet import FleetPlan, FleetRequest, FleetVehicle, plan_fleet
from optimizer.planner.plan_json import charging_slots_to_json
from optimizer.price_series import read_price_csv
from optimizer.times import parse_time

_TOP_KEYS = ("prices", "now", "site_max_power_kw", "vehicles")
_VEHICLE_KEYS = (
    "name", "soc", "target", "capacity", "departure", "max_power", "min_power", "efficiency",
    "priority", "min_soc",
)
_REQUIRED_VEHICLE_KEYS = _VEHICLE_KEYS[:6]
_NUMBER_DEFAULTS: dict[str, Any] = {
    "soc": None, "target": None, "capacity": None, "max_power": None,
    "efficiency": DEFAULT_EFFICIENCY, "priority": 0.0, "min_soc": 0.0,
}
"""The numbers checked against `FLEET_NUMBERS`, with the defaults of the optional ones (the
required ones are present by then)."""


def load_fleet(path: Path) -> FleetRequest:
    """Read and check a fleet file; raise `InputError` naming the first bad value."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: fleet file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the fleet file: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: the fleet file must hold one JSON object")
    _known_keys(data, _TOP_KEYS, "")
    for key in _TOP_KEYS:
        if key not in data:
            raise InputError(f"{key}: required key is missing")
    now = _time(data["now"], "now")
    site_kw = SITE_POWER_KW.check("site_max_power_kw", data["site_max_power_kw"])
    raw_vehicles = data["vehicles"]
    if not isinstance(raw_vehicles, list) or not raw_vehicles:
        raise InputError("vehicles: must be a non-empty list of vehicle objects")
    vehicles = tuple(
        _vehicle(item, f"vehicles[{index}]", now) for index, item in enumerate(raw_vehicles)
    )
    seen: set[str] = set()
    for index, vehicle in enumerate(vehicles):
        if vehicle.name in seen:
            raise InputError(f"vehicles[{index}].name: {vehicle.name!r} is used twice; "
                             f"names must be unique")
        seen.add(vehicle.name)

    prices_value = data["prices"]
    if not isinstance(prices_value, str) or not prices_value.strip():
        raise InputError("prices: must be the path of a price CSV (start,price[,end])")
    prices_path = Path(prices_value).expanduser()
    if not prices_path.is_absolute():
        prices_path = path.resolve().parent / prices_path
    try:
        series = read_price_csv(prices_path)
    except InputError as exc:
        raise InputError(f"prices: {exc}") from None
    last = max(v.departure for v in vehicles)
    slots = series.price_slots(now, last) if last > now else []
    return FleetRequest(now=now, site_max_power_kw=site_kw, vehicles=vehicles, prices=slots)


def _vehicle(item: Any, where: str, now: datetime) -> FleetVehicle:
    if not isinstance(item, dict):
        raise InputError(f"{where}: must be a JSON object")
    _known_keys(item, _VEHICLE_KEYS, f"{where}.")
    for key in _REQUIRED_VEHICLE_KEYS:
        if key not in item:
            raise InputError(f"{where}.{key}: required key is missing")
    name = item["name"]
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{where}.name: must be a non-empty string")
    departure = _time(item["departure"], f"{where}.departure")
    try:
        check_horizon(now, departure)
    except InputError as exc:
        raise InputError(f"{where}.{exc}") from None
    numbers = {key: FLEET_NUMBERS[key].check(f"{where}.{key}", item.get(key, default))
               for key, default in _NUMBER_DEFAULTS.items()}
    soc, target, min_soc = numbers["soc"], numbers["target"], numbers["min_soc"]
    max_kw = numbers["max_power"]
    min_kw = Range(0.0, max_kw, "kW").check(f"{where}.min_power", item.get("min_power", 0.0))
    if min_soc > target:
        raise InputError(f"{where}.min_soc: {min_soc:g} is above the target {target:g}; "
                         f"use a value <= target")
    return FleetVehicle(
        name=name,
        soc_pct=soc,
        target_soc_pct=target,
        capacity_kwh=numbers["capacity"],
        departure=departure,
        max_power_kw=max_kw,
        min_power_kw=min_kw,
        efficiency=numbers["efficiency"],
        priority=numbers["priority"],
        min_soc_pct=min_soc,
    )


def _known_keys(item: dict[str, Any], known: tuple[str, ...], prefix: str) -> None:
    for key in item:
        if key not in known:
            raise InputError(f"{prefix}{key}: unknown key; known keys: {', '.join(known)}")


def _time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise InputError(f"{where}: {json.dumps(value)} is not an ISO 8601 time string")
    return parse_time(value, where)


def fleet_to_json(result: FleetPlan) -> dict[str, Any]:
    vehicles = []
    for vehicle in result.vehicles:
        slots = charging_slots_to_json(vehicle.slots)
        vehicles.append({
            "name": vehicle.name,
            "feasible": vehicle.feasible,
            "reason": vehicle.reason,
            "energy_kwh": vehicle.energy_kwh,
            "shortfall_kwh": vehicle.shortfall_kwh,
            "cost": vehicle.cost,
            "soc_at_departure_pct": vehicle.soc_at_departure_pct,
            "slots": slots,
        })
    return {
        "feasible": result.feasible,
        "cost": result.cost,
        "method": result.method,
        "mip_gap": result.mip_gap,
        "reason": result.reason,
        "vehicles": vehicles,
    }


def render_fleet(result: FleetPlan) -> str:
    """A short human summary: one block per vehicle with the slots it charges in."""
    verdict = "all targets met" if result.feasible else "NOT every target can be met"
    lines = [f"Fleet plan ({result.method}): {verdict}; total cost {result.cost:.4f}"]
    if result.mip_gap is not None:
        lines[0] += f" (MILP gap {result.mip_gap:.2e})"
    if result.reason:
        lines.append(f"  note: {result.reason}")
    for vehicle in result.vehicles:
        lines.append(
            f"  {vehicle.name}: {vehicle.energy_kwh:.3f} kWh, cost {vehicle.cost:.4f}, "
            f"{vehicle.soc_at_departure_pct:.1f}% at departure"
            + ("" if vehicle.feasible else f" -- {vehicle.reason}")
        )
        for slot in vehicle.charging_slots:
            lines.append(
                f"    {slot.start:%a %H:%M}-{slot.end:%H:%M}  {slot.power_kw:7.3f} kW  "
                f"{slot.energy_kwh:7.3f} kWh  @ {slot.price:.4f}"
            )
    return "\n".join(lines)


def run_fleet(path: Path, as_json: bool) -> int:
    """The CLI entry: exit 0 whenever a plan is printed, feasible or not."""
    result = plan_fleet(load_fleet(path))
    print(json.dumps(fleet_to_json(result)) if as_json else render_fleet(result))
    return 0
