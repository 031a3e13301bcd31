"""`ev-optimizer check-config`: validate config.toml and the tariff file it names."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from optimizer.config import load_config, missing_files
from optimizer.tariffs import load_tariff


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("check-config", help="validate a config file")
    parser.add_argument("--config", type=Path, default=Path("config.toml"))
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    tariff = load_tariff(config.tariff)
    # A missing station password or token is not a mistake in the file (it may be made
    # later), but `run` would stop on it: said here, without failing the check.
    warnings = missing_files(args.config)
    summary = {
        "ok": True,
        "warnings": warnings,
        "config": str(args.config),
        "timezone": config.timezone,
        "tariff": tariff.name,
        "vehicles": [v.name for v in config.vehicles],
        "chargers": [
            {"name": c.name, "kind": c.kind, "min_power_kw": round(c.min_power_kw, 3),
             "max_power_kw": round(c.max_power_kw, 3)}
            for c in config.chargers
        ],
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{args.config}: OK ({len(config.vehicles)} vehicle(s), "
              f"{len(config.chargers)} charger(s), tariff '{tariff.name}')")
    for warning in warnings:
        print(f"warning: {args.config}: {warning}", file=sys.stderr)
    return 0
