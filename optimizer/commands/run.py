"""`ev-optimizer run`: the charging service, from plug-in to departure, until SIGTERM/SIGINT.

Logs what it does at INFO on stderr (never a token or password). The HTTP API listens on
`[service] http_host:http_port` (127.0.0.1:8765 by default) with the bearer token from
`<state_dir>/api_token`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from optimizer.config import load_config
from optimizer.service.app import ServiceOptions, run_service


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run", help="run the charging service (CarData, chargers, planner, HTTP API)")
    parser.add_argument("--config", type=Path, default=Path("config.toml"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if not args.debug:
        logging.getLogger("optimizer").setLevel(logging.INFO)
    options = ServiceOptions(charger_base=args.config.resolve().parent)
    asyncio.run(run_service(config, options))
    return 0
