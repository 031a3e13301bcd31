"""`ev-optimizer charger status|start|stop|set --current A`: manual checks against a charger.

For an OCPP charger this command is the central system for as long as it runs: it listens on
the configured host/port and waits (`--wait`) for the station to connect before acting.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from optimizer.chargers.factory import current_range, open_charger
from optimizer.chargers.ocpp_charger import OcppCharger
from optimizer.config import ChargerConfig, Config, load_config
from optimizer.errors import ConfigError, InputError
from optimizer.events import ChargerStatus
from optimizer.ports import WallClock

ACTIONS = {
    "status": "show state, power, energy and current limit",
    "start": "allow charging (remote start / switch on / enable)",
    "stop": "stop or pause charging",
    "set": "set the current limit in A (below the minimum means stop)",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=Path("config.toml"))
    common.add_argument("--charger", help="charger name from the config (default: the first)")
    common.add_argument("--json", action="store_true", help="print the result as JSON")
    common.add_argument("--wait", type=float, default=90.0, metavar="S",
                        help="OCPP: seconds to wait for the station to connect (default 90)")
    parser = subparsers.add_parser("charger", help="check or switch a configured charger")
    actions = parser.add_subparsers(dest="action", required=True)
    for action, help_text in ACTIONS.items():
        sub = actions.add_parser(action, help=help_text, parents=[common])
        if action == "set":
            sub.add_argument("--current", type=float, required=True, metavar="A")
        sub.set_defaults(handler=run)


def pick_charger(config: Config, name: str | None) -> ChargerConfig:
    if name is not None:
        return config.charger(name)
    for charger in config.chargers:
        if charger.kind != "simulated":
            return charger
    raise ConfigError("no real charger in the config (all are 'simulated')")


def describe(name: str, kind: str, status: ChargerStatus) -> dict[str, Any]:
    return {
        "charger": name,
        "kind": kind,
        "state": status.state.value,
        "power_kw": status.power_kw,
        "energy_kwh": status.energy_kwh,
        "current_limit_a": status.current_limit_a,
        "details": {k: v for k, v in status.details.items() if v is not None},
    }


def _announce(wait_s: float) -> Callable[[OcppCharger, str], None]:
    def announce(station: OcppCharger, url: str) -> None:
        print(f"{station.name}: waiting up to {wait_s:g} s for station '{station.station_id}' "
              f"to connect to {url}", file=sys.stderr, flush=True)
    return announce


async def _act(args: argparse.Namespace, config: ChargerConfig, base: Path) -> dict[str, Any]:
    async with open_charger(config, base, WallClock(), wait_s=args.wait,
                            on_listening=_announce(args.wait)) as charger:
        result: dict[str, Any] = {"action": args.action}
        if args.action == "start":
            await charger.start()
        elif args.action == "stop":
            await charger.stop()
        elif args.action == "set":
            applied_a = current_range(config).clamp_a(args.current)
            await charger.set_current_limit(args.current)
            result.update(requested_a=args.current, applied_a=applied_a)
        result.update(describe(config.name, config.kind, await charger.status()))
        return result


MAX_WAIT_S = 3600.0


def run(args: argparse.Namespace) -> int:
    if args.action == "set" and not args.current >= 0:
        raise InputError(f"--current must be 0 or more amperes (got {args.current:g})")
    if not 0 < args.wait <= MAX_WAIT_S:  # also refuses NaN
        raise InputError(f"--wait must be more than 0 and at most {MAX_WAIT_S:g} seconds "
                         f"(got {args.wait:g})")
    config = load_config(args.config)
    charger = pick_charger(config, args.charger)
    result = asyncio.run(_act(args, charger, args.config.resolve().parent))
    if args.json:
        print(json.dumps(result, default=str, allow_nan=False))
        return 0
    if "applied_a" in result:
        note = "" if result["applied_a"] == args.current else (
            f" (asked {args.current:g} A; range {charger.min_current_a:g}-"
            f"{charger.max_current_a:g} A, below the minimum means off)")
        print(f"{charger.name}: limit {result['applied_a']:g} A{note}")
    print(f"{charger.name} ({charger.kind}): {result['state']}")
    for key in ("power_kw", "energy_kwh", "current_limit_a"):
        if result[key] is not None:
            print(f"  {key}: {result[key]:g}")
    for key, value in result["details"].items():
        print(f"  {key}: {value}")
    return 0
