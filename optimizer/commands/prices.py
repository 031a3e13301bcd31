"""`ev-optimizer prices`: what prices are known, what is forecast, and when they were fetched.

With a tariff whose `[spot]` names a live feed, it fetches when the schedule says the feed is
due (the publication time has passed and tomorrow is missing, with backoff after failures),
then shows the cache. A feed that fails is reported, not fatal: the cache and the forecast are
what the planner would use. `--json` prints
`{"tariff", "source", "currency", "timezone", "fetched_at", "known_until", "forecast_from",
"stale", "last_error", "next_fetch", "slots": [{"start", "end", "price", "forecast"}]}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from optimizer.config import load_config
from optimizer.errors import UserError
from optimizer.prices.live import FeedStatus
from optimizer.prices.source import TariffPrices
from optimizer.tariffs import load_tariff
from optimizer.times import parse_time


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "prices", help="show known and forecast prices, and when they were fetched"
    )
    parser.add_argument("--tariff", type=Path, help="tariff TOML file (default: the config's)")
    parser.add_argument("--config", type=Path, help="config.toml (tariff, state dir, timezone)")
    parser.add_argument("--state-dir", type=Path,
                        help="where the price cache lives (default: the config's, else ./state)")
    parser.add_argument("--now", help="ISO 8601 time with offset (default: the clock)")
    parser.add_argument("--hours", type=int, default=48,
                        help="how far ahead to show, from the start of today (default 48)")
    parser.add_argument("--no-fetch", action="store_true", help="show the cache, fetch nothing")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


async def _refresh(prices: TariffPrices, now: datetime, timeout_s: float) -> FeedStatus | None:
    import httpx

    async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=True) as client:
        return await prices.refresh(client, now)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config) if args.config is not None else None
    tariff_path = args.tariff or (config.tariff if config is not None else None)
    if tariff_path is None:
        raise UserError("missing --tariff (or a --config naming a tariff)")
    if args.hours <= 0:
        raise UserError(f"hours: {args.hours} is not valid; use a positive number of hours")
    tariff = load_tariff(tariff_path)
    state_dir = args.state_dir or (config.state_dir if config is not None else Path("state"))
    tz = config.tz if config is not None else tariff.tz
    now = parse_time(args.now, "now") if args.now else datetime.now().astimezone()
    prices = TariffPrices.open(tariff, tariff_path.resolve().parent, state_dir)
    status = None
    if prices.live is not None:
        settings = tariff.feed_settings
        timeout = settings.timeout_s if settings is not None else 15.0
        status = (prices.live.status(now) if args.no_fetch
                  else asyncio.run(_refresh(prices, now, timeout)))
    local = now.astimezone(tz)
    start = datetime(local.year, local.month, local.day, tzinfo=tz)
    end = start + timedelta(hours=args.hours)
    slots, forecast_from = prices.planning_slots(start, end)
    document: dict[str, Any] = {
        "tariff": tariff.name,
        "source": prices.source,
        "currency": tariff.currency,
        "timezone": str(tz),
        "fetched_at": _iso(status.fetched_at if status else None),
        "known_until": _iso(prices.known_until),
        "forecast_from": _iso(forecast_from) if forecast_from < end else None,
        "stale": bool(status and status.stale),
        "last_error": status.last_error if status else None,
        "next_fetch": _iso(status.next_fetch if status else None),
        "slots": [
            {"start": s.start.astimezone(tz).isoformat(), "end": s.end.astimezone(tz).isoformat(),
             "price": s.price, "forecast": s.price is not None and s.start >= forecast_from}
            for s in slots
        ],
    }
    print(json.dumps(document) if args.json else _text(document, tz))
    return 0


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _text(document: dict[str, Any], tz: object) -> str:
    lines = [f"{document['tariff']} ({document['source']}, {document['currency']}/kWh, "
             f"{document['timezone']})"]
    if document["source"] not in ("csv", "fixed"):
        fetched = document["fetched_at"] or "never"
        lines.append(f"fetched {fetched}; next fetch {document['next_fetch']}")
        if document["stale"]:
            lines.append(f"feed down: {document['last_error']}; planning on the cache plus "
                         f"the forecast")
    lines.append(f"known until {document['known_until'] or 'nothing known'}"
                 + (f"; forecast (provisional) from {document['forecast_from']}"
                    if document["forecast_from"] else ""))
    hourly: dict[str, list[float]] = {}
    flags: dict[str, bool] = {}
    for slot in document["slots"]:
        hour = slot["start"][:13]
        if slot["price"] is not None:
            hourly.setdefault(hour, []).append(slot["price"])
            flags[hour] = flags.get(hour, False) or slot["forecast"]
    for hour, values in hourly.items():
        mark = "  forecast" if flags[hour] else ""
        lines.append(f"{hour.replace('T', ' ')}:00  {sum(values) / len(values):8.4f}{mark}")
    if not hourly:
        lines.append("no prices known or forecast for this window")
    return "\n".join(lines)
