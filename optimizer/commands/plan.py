"""`ev-optimizer plan`: one plan from flags (or config), or many from a JSONL batch.

The JSON shape is a contract checked from outside; keep it stable:
`{"feasible", "reason", "energy_kwh", "cost", "soc_at_departure_pct", "slots": [...]}` with only
slots that charge, each `{"start", "end", "power_kw", "energy_kwh", "price"}` (plus
`"provisional"` where the price is a fallback).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer.errors import InputError, UserError
from optimizer.model import ChargePlan, TaperPoint
from optimizer.planner import PlanOptions, PlanRequest, plan
from optimizer.planner.plan_json import charging_slots_to_json
from optimizer.price_series import PriceSeries, read_price_csv

if TYPE_CHECKING:
    from optimizer.config import Config
    from optimizer.ports import PriceSource

# config, tariffs and the chart are imported where they are used: with pydantic they are most of
# the start-up time of a `--prices` plan or a `--batch`, which need none of them.


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plan", help="plan the cheapest charging that reaches the target by departure"
    )
    parser.add_argument("--config", type=Path, help="take vehicle, charger, tariff from here")
    parser.add_argument("--vehicle", help="vehicle name or VIN in the config (default: first)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--prices", type=Path, help="CSV with start,price[,end] columns")
    source.add_argument("--tariff", type=Path, help="tariff TOML file (see tariffs/)")
    parser.add_argument("--now", help="ISO 8601 time with offset (default: the clock)")
    parser.add_argument("--departure", help="ISO 8601 time with offset (default: config)")
    parser.add_argument("--soc", type=float, help="current state of charge, %%")
    parser.add_argument("--target", type=float, help="target state of charge, %%")
    parser.add_argument("--capacity", type=float, help="usable battery capacity, kWh")
    parser.add_argument("--max-power", type=float, help="charger maximum power, kW")
    parser.add_argument("--min-power", type=float, help="charger minimum power when on, kW")
    parser.add_argument("--efficiency", type=float, help="grid to battery, default 0.9")
    parser.add_argument("--taper", help="max power by SoC, e.g. '80:11,100:2' (concave)")
    parser.add_argument("--mode", choices=["cheapest", "block"])
    parser.add_argument("--min-run", type=int, metavar="MIN", help="minimum run length, minutes")
    parser.add_argument("--start-penalty", type=float, help="cost added per start")
    parser.add_argument("--buffer", type=int, metavar="MIN", help="finish MIN before departure")
    parser.add_argument("--min-soc", type=float, help="charge to this SoC immediately, %%")
    parser.add_argument("--opportunistic-limit", type=float, metavar="PCT",
                        help="charge above the target up to PCT while the price is below the cap")
    parser.add_argument("--price-cap", type=float, help="price cap for opportunistic charging")
    parser.add_argument("--unknown-price", type=float,
                        help="fallback price for slots past the published prices")
    parser.add_argument("--charging-now", action="store_true",
                        help="the car is charging now (continuing is not a new start)")
    parser.add_argument("--batch", type=Path, help="JSONL file of requests, one result per line")
    parser.add_argument("--fleet", type=Path, metavar="FILE.json",
                        help="plan several vehicles jointly under a site power limit")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.fleet is not None:
        from optimizer.planner.fleet_io import run_fleet  # only fleet plans need it

        return run_fleet(args.fleet, args.json)
    if args.batch is not None:
        return _run_batch(args.batch)
    config = None
    if args.config is not None:
        from optimizer.config import load_config

        config = load_config(args.config)
    request, options, currency = _from_args(args, config, {})
    result = plan(request, options)
    if args.json:
        print(json.dumps(plan_to_json(result)))
    else:
        from optimizer.terminal_chart import render_plan

        tz = config.tz if config is not None else request.now.tzinfo
        print(render_plan(result, currency=currency, tz=tz))
    return 0


def plan_to_json(result: ChargePlan) -> dict[str, Any]:
    slots = charging_slots_to_json(result.slots)
    return {
        "feasible": result.feasible,
        "reason": result.reason,
        "energy_kwh": result.energy_kwh,
        "cost": result.cost,
        "soc_at_departure_pct": result.soc_at_departure_pct,
        "provisional": result.provisional,
        "slots": slots,
    }


def parse_time(text: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{name}: {text!r} is not an ISO 8601 time; write e.g. 2024-03-05T18:00:00+01:00"
        ) from None
    if value.tzinfo is None:
        raise InputError(f"{name}: {text!r} has no UTC offset; add one, e.g. +01:00")
    return value


def parse_taper(text: str) -> tuple[TaperPoint, ...]:
    points = []
    for part in text.split(","):
        soc, sep, power = part.partition(":")
        try:
            points.append(TaperPoint(float(soc), float(power)))
        except ValueError:
            raise InputError(
                f"taper: {part!r} is not SOC:KW; write e.g. '80:11,100:2'"
            ) from None
        if not sep:
            raise InputError(f"taper: {part!r} is not SOC:KW; write e.g. '80:11,100:2'")
    return tuple(points)


def _pick(flag: Any, fallback: Any, name: str) -> Any:
    value = flag if flag is not None else fallback
    if value is None:
        raise UserError(f"missing --{name}; give it on the command line or use --config")
    return value


def _from_args(
    args: argparse.Namespace, config: Config | None, cache: dict[Path, PriceSeries]
) -> tuple[PlanRequest, PlanOptions, str]:
    vehicle = config.vehicle(args.vehicle) if config is not None else None
    charger = config.charger(vehicle.charger) if config is not None and vehicle else None
    now = parse_time(args.now, "now") if args.now else datetime.now().astimezone()
    if config is not None:
        now = now.astimezone(config.tz)
    if args.departure:
        departure = parse_time(args.departure, "departure")
    elif vehicle is not None and config is not None:
        found = vehicle.next_departure(now, config.tz)
        if found is None:
            raise UserError(
                f"vehicle '{vehicle.name}' has no departures in the config; "
                f"add [vehicles.departures] or pass --departure"
            )
        departure = found
    else:
        raise UserError("missing --departure; give it on the command line or use --config")

    currency = "EUR"
    source: PriceSource
    if args.prices is not None:
        series = cache.get(args.prices)
        if series is None:
            series = cache[args.prices] = read_price_csv(args.prices)
        source = series
    else:
        tariff_path = args.tariff or (config.tariff if config is not None else None)
        if tariff_path is None:
            raise UserError("missing --prices or --tariff (or a --config naming a tariff)")
        from optimizer.tariffs import load_tariff

        tariff = load_tariff(tariff_path)
        currency = tariff.currency
        source = tariff

    planner = config.planner if config is not None else None
    request = PlanRequest(
        now=now,
        departure=departure,
        soc_pct=_pick(args.soc, None, "soc"),
        target_soc_pct=_pick(args.target, vehicle.target_soc_pct if vehicle else None, "target"),
        capacity_kwh=_pick(args.capacity, vehicle.capacity_kwh if vehicle else None, "capacity"),
        max_power_kw=_pick(args.max_power, charger.max_power_kw if charger else None,
                           "max-power"),
        min_power_kw=_pick(args.min_power, charger.min_power_kw if charger else 0.0,
                           "min-power"),
        efficiency=_pick(args.efficiency, vehicle.efficiency if vehicle else 0.9, "efficiency"),
        taper=parse_taper(args.taper) if args.taper else (),
        prices=source.price_slots(now, departure) if departure > now else [],
    )
    mode = args.mode or (planner.mode if planner else "cheapest")
    if mode not in ("cheapest", "block"):
        raise InputError(f"mode: {mode!r} is not a planning mode; use 'cheapest' or 'block'")
    options = PlanOptions(
        mode=mode,
        min_run_minutes=_pick(args.min_run, planner.min_run_minutes if planner else 0, "min-run"),
        start_penalty=_pick(args.start_penalty, planner.start_penalty if planner else 0.0,
                            "start-penalty"),
        buffer_minutes=_pick(args.buffer, planner.buffer_minutes if planner else 0, "buffer"),
        min_soc_pct=_pick(args.min_soc, vehicle.min_soc_pct if vehicle else 0.0, "min-soc"),
        opportunistic_limit_soc_pct=(
            args.opportunistic_limit if args.opportunistic_limit is not None
            else (planner.opportunistic_limit_soc_pct if planner else None)
        ),
        opportunistic_price_cap=_pick(
            args.price_cap, planner.opportunistic_price_cap if planner else 0.0, "price-cap"
        ),
        unknown_price=(
            args.unknown_price if args.unknown_price is not None
            else (planner.unknown_price if planner else None)
        ),
        charging_now=args.charging_now,
    )
    return request, options, currency


# --------------------------------------------------------------------------- batch

_BATCH_KEYS = {
    "prices", "now", "departure", "soc", "target", "capacity", "max_power", "min_power",
    "efficiency", "taper", "mode", "min_run", "start_penalty", "buffer", "min_soc",
    "opportunistic_limit", "price_cap", "unknown_price", "charging_now",
}
_REQUIRED = ("prices", "now", "departure", "soc", "target", "capacity", "max_power")


def _run_batch(path: Path) -> int:
    """Plan every line; a bad line yields an error object in its place and exit code 2."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"{path}: batch file not found") from None
    cache: dict[Path, PriceSeries] = {}
    failed = 0
    out = sys.stdout
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            result = _plan_line(path, number, line, cache)
            out.write(json.dumps(plan_to_json(result)) + "\n")
        except UserError as exc:
            failed += 1
            out.write(json.dumps({"error": str(exc), "line": number}) + "\n")
    if failed:
        print(f"error: {failed} of the batch lines failed; see their error objects",
              file=sys.stderr)
        return 2
    return 0


_FLOAT_KEYS = {
    "soc", "target", "capacity", "max_power", "min_power", "efficiency", "start_penalty",
    "min_soc", "opportunistic_limit", "price_cap", "unknown_price",
}
_INT_KEYS = {"min_run", "buffer"}


def _plan_line(path: Path, number: int, line: str, cache: dict[Path, PriceSeries]) -> ChargePlan:
    """One batch line becomes the same Namespace the flags produce, so both share one path."""
    where = f"{path}:{number}"
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(item, dict):
        raise InputError(f"{where}: each line must be a JSON object")
    unknown = sorted(set(item) - _BATCH_KEYS)
    if unknown:
        raise InputError(
            f"{where}: unknown key '{unknown[0]}'; known: {', '.join(sorted(_BATCH_KEYS))}"
        )
    missing = [k for k in _REQUIRED if item.get(k) is None]
    if missing:
        raise InputError(f"{where}: missing key '{missing[0]}'")
    values: dict[str, Any] = {key: None for key in _BATCH_KEYS}
    values.update(vehicle=None, tariff=None, charging_now=False)
    for key, value in item.items():
        try:
            if key in _FLOAT_KEYS and value is not None:
                value = float(value)
            elif key in _INT_KEYS and value is not None:
                value = int(value)
        except (TypeError, ValueError):
            raise InputError(f"{where}: {key} {value!r} is not a number") from None
        values[key] = value
    prices = Path(str(item["prices"]))
    if not prices.is_absolute() and not prices.exists():
        prices = path.parent / prices
    values["prices"] = prices
    values["now"] = str(item["now"])
    values["departure"] = str(item["departure"])
    try:
        request, options, _ = _from_args(argparse.Namespace(**values), None, cache)
        return plan(request, options)
    except UserError as exc:
        raise InputError(f"{where}: {exc}") from None
