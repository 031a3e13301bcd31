"""`ev-optimizer plan`: one plan from flags (or config), or many from a JSONL batch.

The JSON shape is a contract checked from outside; keep it stable:
`{"feasible", "reason", "energy_kwh", "cost", "soc_at_departure_pct", "slots": [...]}` with only
slots that charge, each `{"start", "end", "power_kw", "energy_kwh", "price"}` (plus
`"provisional"` where the price is a fallback).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer.bounds import PLAN_NUMBERS, Range
from optimizer.errors import InputError, UserError, printable, quoted
from optimizer.model import ChargePlan, PriceSlot, TaperPoint
from optimizer.planner import (
    DEFAULT_EFFICIENCY,
    PlanOptions,
    PlanRequest,
    check_horizon,
    plan,
)
from optimizer.planner.plan_json import charging_slots_text
from optimizer.ports import WallClock
from optimizer.price_series import PriceSeries, read_price_csv
from optimizer.textfiles import read_text
from optimizer.times import parse_time

if TYPE_CHECKING:
    from optimizer.config import Config, PlannerConfig
    from optimizer.ports import PriceSource
    from optimizer.tariffs import Tariff

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
    number = _flag_number
    parser.add_argument("--soc", type=number("soc"), help="current state of charge, %%")
    parser.add_argument("--target", type=number("target"), help="target state of charge, %%")
    parser.add_argument("--capacity", type=number("capacity"),
                        help="usable battery capacity, kWh")
    parser.add_argument("--max-power", type=number("max_power"),
                        help="charger maximum power, kW")
    parser.add_argument("--min-power", type=number("min_power"),
                        help="charger minimum power when on, kW")
    parser.add_argument("--efficiency", type=number("efficiency"),
                        help=f"grid to battery, default {DEFAULT_EFFICIENCY:g}")
    parser.add_argument("--taper", help="max power by SoC, e.g. '80:11,100:2' (concave)")
    parser.add_argument("--mode", choices=["cheapest", "block"])
    parser.add_argument("--min-run", type=number("min_run"), metavar="MIN",
                        help="minimum run length, minutes")
    parser.add_argument("--start-penalty", type=number("start_penalty"),
                        help="cost added per start")
    parser.add_argument("--buffer", type=number("buffer"), metavar="MIN",
                        help="finish MIN before departure")
    parser.add_argument("--min-soc", type=number("min_soc"),
                        help="charge to this SoC immediately, %%")
    parser.add_argument("--opportunistic-limit", type=number("opportunistic_limit"),
                        metavar="PCT",
                        help="charge above the target up to PCT while the price is below the cap")
    parser.add_argument("--price-cap", type=number("price_cap"),
                        help="price cap for opportunistic charging")
    parser.add_argument("--unknown-price", type=number("unknown_price"),
                        help="fallback price for slots past the published prices")
    parser.add_argument("--charging-now", action="store_true",
                        help="the car is charging now (continuing is not a new start)")
    parser.add_argument("--state-dir", type=Path,
                        help="where a live tariff's price cache is (default: the config's, "
                        "else ./state)")
    parser.add_argument("--batch", type=Path, help="JSONL file of requests, one result per line")
    parser.add_argument("--fleet", type=Path, metavar="FILE.json",
                        help="plan several vehicles jointly under a site power limit")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run, logs=False)  # nothing here logs: skip importing logging


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
    if request.forecast_from is not None:
        note = (f"planned on the price forecast from "
                f"{request.forecast_from.astimezone(request.now.tzinfo).isoformat()}, where the "
                f"feed's published prices end; re-plan when newer prices are fetched")
        result = replace(result, reason=f"{note}; {result.reason}" if result.reason else note)
    if args.json:
        print(plan_json_text(result))
    else:
        from optimizer.terminal_chart import render_plan

        tz = config.tz if config is not None else request.now.tzinfo
        print(render_plan(result, currency=currency, tz=tz))
    return 0


def plan_json_text(result: ChargePlan) -> str:
    """The plan as `plan --json` prints it (one batch line): the fields, then the slots' text."""
    fields = dump_json({
        "feasible": result.feasible,
        "reason": result.reason,
        "energy_kwh": result.energy_kwh,
        "cost": result.cost,
        "soc_at_departure_pct": result.soc_at_departure_pct,
        "provisional": result.provisional,
    })
    return f'{fields[:-1]}, "slots": {charging_slots_text(result.slots)}}}'


def plan_to_json(result: ChargePlan) -> dict[str, Any]:
    """The same plan as JSON values, for a caller that embeds it (the service's views)."""
    value: dict[str, Any] = json.loads(plan_json_text(result))
    return value


_ENCODER = json.JSONEncoder(allow_nan=False)
"""What `json.dumps(value, allow_nan=False)` builds on every call, built once for a batch."""


def dump_json(value: dict[str, Any]) -> str:
    """JSON that every parser accepts: a NaN or an infinity is a bug, never `NaN` in the output."""
    return _ENCODER.encode(value)


def _flag_number(name: str) -> Any:
    """An argparse `type` that reads a number and checks it against its physical range."""
    bound = PLAN_NUMBERS[name]

    def convert(text: str) -> float | int:
        try:
            value: float | int = int(text) if bound.integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'a whole number' if bound.integer else 'a number'}"
            ) from None
        if not bound.contains(value):
            raise argparse.ArgumentTypeError(
                f"{quoted(text)} is out of range; use {bound.describe()}")
        return value

    return convert


def parse_taper(text: str) -> tuple[TaperPoint, ...]:
    points = []
    for part in text.split(","):
        soc, sep, power = part.partition(":")
        try:
            point = TaperPoint(float(soc), float(power))
        except ValueError:
            point = None
        if point is None or not sep:
            raise InputError(f"taper: {quoted(part)} is not SOC:KW; write e.g. '80:11,100:2'")
        PLAN_NUMBERS["soc"].check("taper", point.soc_pct)
        PLAN_NUMBERS["min_power"].check("taper", point.power_kw)
        points.append(point)
    return tuple(points)


_DEFAULT_OPTIONS = PlanOptions()


def _first(*values: Any) -> Any:
    """The first value that is given (not None): a flag before the config before a default."""
    for value in values:  # a loop, not next(genexpr): this runs nine times per batch line
        if value is not None:
            return value
    return None


def _pick(flag: Any, fallback: Any, name: str) -> Any:
    value = flag if flag is not None else fallback
    if value is None:
        raise UserError(f"missing --{name}; give it on the command line or use --config")
    return value


def _from_args(
    args: argparse.Namespace, config: Config | None, cache: dict[Path, PriceSeries]
) -> tuple[PlanRequest, PlanOptions, str]:
    vehicle = config.vehicle(args.vehicle) if config is not None else None
    charger = (
        config.charger(vehicle.charger)
        if config is not None and vehicle is not None and vehicle.charger is not None else None
    )
    now = parse_time(args.now, "now") if args.now is not None else WallClock().now().astimezone()
    if config is not None:
        now = now.astimezone(config.tz)
    if args.departure is not None:
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
    if departure <= now:
        raise InputError(
            f"departure: {departure.isoformat()} is not after now ({now.isoformat()}); "
            f"give a later departure"
        )
    check_horizon(now, departure)

    currency = "EUR"
    source: PriceSource
    prices: Sequence[PriceSlot] | None = None
    forecast_from: datetime | None = None
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
        if tariff.feed_settings is not None:
            prices, forecast_from = _live_prices(args, config, tariff, tariff_path, now,
                                                 departure)

    # Without a config the planner's own defaults apply; PlanOptions carries the same option
    # names as [planner] (whose defaults come from it), without loading pydantic for a batch.
    planner: PlannerConfig | PlanOptions = (config.planner if config is not None
                                            else _DEFAULT_OPTIONS)
    if (args.mode or planner.mode) not in ("cheapest", "block"):
        raise InputError(f"mode: {quoted(args.mode)} is not a planning mode; use 'cheapest' or "
                         f"'block'")
    # Left out (None) means the planner's own default, which is defined once, in the planner.
    defaults_from = {
        "min_power_kw": _first(args.min_power, charger.min_power_kw if charger else None),
        "efficiency": _first(args.efficiency, vehicle.efficiency if vehicle else None),
    }
    request = PlanRequest(
        now=now,
        departure=departure,
        soc_pct=_pick(args.soc, None, "soc"),
        target_soc_pct=_pick(args.target, vehicle.target_soc_pct if vehicle else None, "target"),
        capacity_kwh=_pick(args.capacity, vehicle.capacity_kwh if vehicle else None, "capacity"),
        max_power_kw=_pick(args.max_power, charger.max_power_kw if charger else None,
                           "max-power"),
        taper=parse_taper(args.taper) if args.taper else (),
        prices=prices if prices is not None else source.price_slots(now, departure),
        forecast_from=forecast_from,
        **{key: value for key, value in defaults_from.items() if value is not None},
    )
    options = PlanOptions(
        mode=args.mode or planner.mode,
        min_run_minutes=_first(args.min_run, planner.min_run_minutes),
        start_penalty=_first(args.start_penalty, planner.start_penalty),
        buffer_minutes=_first(args.buffer, planner.buffer_minutes),
        min_soc_pct=_first(args.min_soc, vehicle.min_soc_pct if vehicle else None,
                           _DEFAULT_OPTIONS.min_soc_pct),
        opportunistic_limit_soc_pct=_first(args.opportunistic_limit,
                                           planner.opportunistic_limit_soc_pct),
        opportunistic_price_cap=_first(args.price_cap, planner.opportunistic_price_cap),
        unknown_price=_first(args.unknown_price, planner.unknown_price),
        charging_now=args.charging_now,
    )
    return request, options, currency


def _live_prices(
    args: argparse.Namespace, config: Config | None, tariff: Tariff, tariff_path: Path,
    now: datetime, departure: datetime,
) -> tuple[Sequence[PriceSlot], datetime | None]:
    """A live tariff's cached prices plus the forecast past them, as the service plans on them
    (`planning_prices`), and where the forecast begins (None: not before departure).
    Nothing is fetched: `ev-optimizer prices` does that."""
    from optimizer.prices.source import TariffPrices, planning_prices

    settings = tariff.feed_settings
    assert settings is not None
    state_dir = args.state_dir or (config.state_dir if config is not None else Path("state"))
    prices = TariffPrices.open(tariff, tariff_path.resolve().parent, state_dir)
    if prices.known_until is None:
        state = f" --state-dir {state_dir}" if args.state_dir is not None else ""
        raise UserError(
            f"no cached prices for the {settings.source} feed in {state_dir}; run "
            f"`ev-optimizer prices --tariff {tariff_path}{state}` first to fetch them"
        )
    return planning_prices(prices, now, departure)


# --------------------------------------------------------------------------- batch

def _run_batch(path: Path) -> int:
    """Plan every line; a bad line yields an error object in its place and exit code 2."""
    # A line leaves no reference cycles behind (its plan is freed by reference counting; a
    # test holds that), so the cyclic collector has nothing to find in the loop: its passes
    # over the caches and the price grid were 4 % of a batch of day plans.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _plan_lines(path)
    finally:
        if enabled:
            gc.enable()


def _plan_lines(path: Path) -> int:
    lines = _read_batch(path)
    cache: dict[Path, PriceSeries] = {}
    paths: dict[str, Path] = {}
    failed = 0
    out = sys.stdout
    flushed = time.monotonic()
    for number, line in enumerate(lines, start=1):
        if not line.strip(" \t"):  # JSON's own whitespace; anything else is a bad request
            continue
        try:
            result = plan_json_text(_plan_line(path, number, line, cache, paths))
        except UserError as exc:
            failed += 1
            result = dump_json({"error": printable(str(exc)), "line": number})
        except (ArithmeticError, ValueError, RecursionError, MemoryError) as exc:
            # Nothing here is expected; but one line must never cost the rest of the batch.
            failed += 1
            result = dump_json({"error": f"{path}:{number}: could not plan this line "
                                         f"({type(exc).__name__}); please report it",
                                "line": number})
        out.write(result + "\n")
        # A slow batch (MILP lines) still shows its progress to a reader on a pipe; a fast
        # one is written in blocks, not in one system call per line.
        written = time.monotonic()
        if written - flushed >= _FLUSH_EVERY_S:
            out.flush()
            flushed = written
    if failed:
        print(f"error: {failed} of the batch lines failed; see their error objects",
              file=sys.stderr)
        return 2
    return 0


_FLUSH_EVERY_S = 0.5


def _read_batch(path: Path) -> list[str]:
    text = read_text(path, "batch file")
    # JSON Lines ends lines with \n (or \r\n) only: `splitlines` would also split at a form
    # feed or U+2028 inside a line, and the results would no longer match the requests.
    return [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")]


_STRING_KEYS = {"prices", "now", "departure", "taper", "mode"}
_REQUIRED = ("prices", "now", "departure", "soc", "target", "capacity", "max_power")
_BATCH_KEYS = {*_STRING_KEYS, *PLAN_NUMBERS, "charging_now"}


def _parse_int(text: str) -> float | int:
    """JSON integers as Python does, except that a huge one is infinite (and so out of any
    range, refused with its key) instead of an error that cannot say which key it was."""
    return int(text) if len(text) <= 100 else float("inf") if text[0] != "-" else float("-inf")


def _plan_line(
    path: Path, number: int, line: str, cache: dict[Path, PriceSeries], paths: dict[str, Path],
) -> ChargePlan:
    """One batch line becomes the same Namespace the flags produce, so both share one path.

    `paths` keeps the `Path` of each `prices` value: the lines of a batch name one or a few
    files, and a new `Path` per line (made, checked, hashed for the cache) was a tenth of a
    line's time."""
    where = f"{path}:{number}"
    try:
        # NaN and Infinity parse as floats here, so that the range check names their key.
        item = json.loads(line, parse_int=_parse_int)
    except RecursionError:
        raise InputError(f"{where}: not valid JSON (nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError, and integers too long to convert
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise InputError(f"{where}: not valid JSON ({message})") from None
    if not isinstance(item, dict):
        raise InputError(f"{where}: each line must be a JSON object")
    unknown = sorted(set(item) - _BATCH_KEYS)
    if unknown:
        raise InputError(
            f"{where}: unknown key {quoted(unknown[0])}; known: {', '.join(sorted(_BATCH_KEYS))}"
        )
    missing = [k for k in _REQUIRED if item.get(k) is None]
    if missing:
        raise InputError(f"{where}: missing key '{missing[0]}'")
    values: dict[str, Any] = dict.fromkeys(_BATCH_KEYS)
    values.update(vehicle=None, tariff=None, charging_now=False)
    try:
        for key, value in item.items():
            values[key] = _batch_value(key, value)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    prices = paths.get(values["prices"])
    if prices is None:
        prices = Path(values["prices"])
        if not prices.is_absolute() and not prices.exists():
            prices = path.parent / prices
        paths[values["prices"]] = prices
    values["prices"] = prices
    try:
        request, options, _ = _from_args(argparse.Namespace(**values), None, cache)
        return plan(request, options)
    except UserError as exc:
        raise InputError(f"{where}: {exc}") from None


def _batch_value(key: str, value: Any) -> Any:
    """A batch value of the type its flag takes, checked against the same range."""
    if value is None:
        return False if key == "charging_now" else None
    if key == "charging_now":
        if not isinstance(value, bool):
            raise InputError(f"charging_now: {quoted(value)} is not true or false")
        return value
    if key in _STRING_KEYS:
        if not isinstance(value, str) or not value or "\0" in value:
            raise InputError(f"{key}: {quoted(value)} is not a non-empty string")
        return value
    bound: Range = PLAN_NUMBERS[key]
    checked = bound.check(key, value)
    return int(checked) if bound.integer else checked
