"""`ev-optimizer backtest`: what each charging strategy would have paid on real prices.

The JSON shape is a contract checked from outside; keep it stable:
`{"sessions", "strategies": {name: {"cost", "energy_kwh", "missed", "avg_price"}},
"saving_vs_dumb": {name: {"amount", "pct"}}}` with the strategies dumb, evcc_like, ours, optimum.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, timedelta, tzinfo
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from optimizer.backtest.market import Market
from optimizer.backtest.report import write_report
from optimizer.backtest.runner import STRATEGIES, BacktestResult, run_backtest
from optimizer.backtest.sessions import Commute, Session, check_sessions, read_sessions_csv
from optimizer.backtest.strategies import Charger
from optimizer.config import Config, load_config
from optimizer.errors import InputError
from optimizer.planner import PlanOptions
from optimizer.prices.forecast import DEFAULT_MODEL, MODELS, ModelName
from optimizer.prices.grid import PriceGrid, slot_index
from optimizer.prices.schedule import Publication, parse_clock, parse_zone
from optimizer.tariffs import load_tariff, read_price_csv

_TICK = timedelta(microseconds=1)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "backtest", help="what dumb, evcc-like, our and perfect charging would have paid"
    )
    prices = parser.add_mutually_exclusive_group(required=True)
    prices.add_argument("--prices", type=Path, help="CSV with start,price[,end] columns")
    prices.add_argument("--tariff", type=Path, help="tariff TOML file with a spot CSV")
    sessions = parser.add_mutually_exclusive_group(required=True)
    sessions.add_argument("--sessions", type=Path,
                          help="CSV with arrival,departure,energy_kwh (ISO 8601 with offset)")
    sessions.add_argument("--commute", help="e.g. '18:00-07:30,22kWh,Mon-Fri' (plug-in days)")
    parser.add_argument("--timezone", help="time zone of --commute (default: config, else system)")
    parser.add_argument("--config", type=Path, help="planner options, charger and vehicle")
    parser.add_argument("--max-power", type=float, help="charger maximum power, kW (default 11)")
    parser.add_argument("--min-power", type=float, help="charger minimum power when on, kW")
    parser.add_argument("--efficiency", type=float, help="grid to battery, default 0.9")
    parser.add_argument("--published-at", default="12:45", metavar="HH:MM",
                        help="when the next day's prices appear (default 12:45)")
    parser.add_argument("--publication-tz", default="Europe/Brussels",
                        help="time zone of --published-at (default Europe/Brussels)")
    parser.add_argument("--forecast", choices=[*MODELS, "none"], default=DEFAULT_MODEL,
                        help=f"price forecast past the published prices (default {DEFAULT_MODEL};"
                        " 'none' waits for the prices)")
    parser.add_argument("--report", type=Path, metavar="HTML", help="write a report page here")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


def system_zone() -> tzinfo:
    """The machine's IANA zone (TZ, then /etc/localtime), so DST is honoured; else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with open("/etc/localtime", "rb") as handle:
            return ZoneInfo.from_file(handle, key="localtime")
    except (OSError, ValueError):
        return UTC


def _zone(args: argparse.Namespace, config: Config | None) -> tzinfo:
    if args.timezone:
        return parse_zone(args.timezone, "timezone")
    return config.tz if config is not None else system_zone()


def _grid(args: argparse.Namespace, sessions: list[Session] | None) -> tuple[PriceGrid, bool]:
    """The true prices, and whether they are day-ahead prices that get published."""
    if args.prices is not None:
        series = read_price_csv(args.prices)
        return PriceGrid.from_intervals(zip(series.starts, series.ends, series.prices,
                                            strict=True)), True
    tariff = load_tariff(args.tariff)
    if tariff.feed_settings is not None:
        raise InputError(
            f"{args.tariff}: its prices come from the live feed "
            f"'{tariff.feed_settings.source}', which has no history to backtest on; give "
            f"--prices with a CSV of past prices"
        )
    span = tariff.known_span
    if span is None:  # fixed: known everywhere, so the sessions set the range
        if not sessions:
            raise InputError(
                f"{args.tariff}: a fixed tariff has no date range; give --sessions rather "
                f"than --commute"
            )
        start = min(s.arrival for s in sessions)
        end = max(s.departure for s in sessions)
        return PriceGrid.from_slots(tariff.price_slots(start, end)), False
    return PriceGrid.from_slots(tariff.price_slots(*span)), True


def _charger(args: argparse.Namespace, config: Config | None) -> Charger:
    vehicle = config.vehicle(None) if config is not None else None
    charger = config.charger(vehicle.charger) if config is not None and vehicle else None
    max_power = args.max_power if args.max_power is not None else (
        charger.max_power_kw if charger else 11.0)
    min_power = args.min_power if args.min_power is not None else (
        charger.min_power_kw if charger else 0.0)
    efficiency = args.efficiency if args.efficiency is not None else (
        vehicle.efficiency if vehicle else 0.9)
    if max_power <= 0:
        raise InputError(f"max-power: {max_power:g} is not valid; use a positive kW value")
    if not 0 <= min_power <= max_power:
        raise InputError(
            f"min-power: {min_power:g} is not valid; use 0..max-power ({max_power:g} kW)"
        )
    if not 0 < efficiency <= 1:
        raise InputError(f"efficiency: {efficiency:g} is not valid; use a fraction in (0, 1]")
    return Charger(max_power, min_power, efficiency)


def _options(config: Config | None) -> PlanOptions:
    """Planner options come from --config only when it is given; else the plain defaults."""
    if config is None:
        return PlanOptions()
    p = config.planner
    return PlanOptions(mode=p.mode, min_run_minutes=p.min_run_minutes,
                       start_penalty=p.start_penalty, buffer_minutes=p.buffer_minutes,
                       unknown_price=p.unknown_price)


class _Progress:
    """A one-line bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        if percent == self.shown and done != total:
            return
        self.shown = percent
        filled = percent * 30 // 100
        self.stream.write(f"\rbacktest [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
        if done == total:
            self.stream.write("\n")
        self.stream.flush()


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config) if args.config is not None else None
    charger = _charger(args, config)
    publication = Publication(parse_clock(args.published_at, "published-at"),
                              parse_zone(args.publication_tz, "publication-tz"))
    listed = read_sessions_csv(args.sessions) if args.sessions is not None else None
    grid, published = _grid(args, listed)
    if listed is None:
        sessions = Commute.parse(args.commute).sessions(grid.start, grid.end, _zone(args, config))
        source = f"commute {args.commute!r}"
        if not sessions:
            raise InputError(f"commute: no plug-in day of {args.commute!r} lies inside the prices")
    else:
        sessions, source = listed, str(args.sessions)
    sessions = check_sessions(sessions, grid.start, grid.end, source)
    model: ModelName | None = None if args.forecast == "none" else args.forecast
    market = Market.build(grid, publication if published else None, model)
    uncovered = [s for s in sessions
                 if np.isnan(grid.window(slot_index(s.arrival),
                                         slot_index(s.departure - _TICK) + 1)).any()]
    if uncovered:
        rows = ", ".join(str(s.row) for s in uncovered[:10])
        which = f"rows {rows} fall" if len(uncovered) > 1 else f"row {rows} falls"
        raise InputError(f"{source}: {which} on a gap in the prices; fill the gap or drop "
                         f"{'those sessions' if len(uncovered) > 1 else 'that session'}")
    progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
    result = run_backtest(sessions, market, charger, _options(config), progress)
    if args.report is not None:
        write_report(args.report, result, publication.tz)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(_table(result))
    return 0


def _table(result: BacktestResult) -> str:
    data = result.to_json()
    lines = [f"{data['sessions']} sessions",
             f"{'strategy':<10} {'cost':>12} {'kWh':>10} {'avg/kWh':>9} {'missed':>6} "
             f"{'saving':>12}"]
    for name in STRATEGIES:
        row = data["strategies"][name]
        saving = data["saving_vs_dumb"].get(name)
        saved = (f"{saving['amount']:.2f} ({saving['pct']:.1f}%)"
                 if saving and saving["pct"] is not None else "")
        avg = f"{row['avg_price']:.4f}" if row["avg_price"] is not None else "-"
        lines.append(f"{name:<10} {row['cost']:>12.2f} {row['energy_kwh']:>10.1f} {avg:>9} "
                     f"{row['missed']:>6} {saved:>12}")
    return "\n".join(lines)
