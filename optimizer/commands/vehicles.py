"""`ev-optimizer vehicles`: the cars mapped to the CarData account, with their basic data.

Costs 1 + (number of cars) REST calls of the 50 a day; the quota ledger refuses early.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from optimizer.cardata.client import api_client, http_client, unreachable
from optimizer.config import Config, load_config


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("vehicles", help="list the CarData vehicles (REST)")
    parser.add_argument("--config", type=Path, default=Path("config.toml"))
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    vehicles = asyncio.run(_vehicles(config))
    if args.json:
        print(json.dumps(vehicles))
        return 0
    if not vehicles:
        print("No vehicles are mapped to this CarData account.")
    for vehicle in vehicles:
        basic = vehicle.get("basicData", {})
        print(f"{vehicle.get('vin')}  {basic.get('brand', '?')} {basic.get('modelName', '?')}  "
              f"({vehicle.get('mappingType', '?')})")
    return 0


async def _vehicles(config: Config) -> list[dict[str, Any]]:
    async with http_client() as http:
        api = api_client(config, http)
        try:
            mappings = await api.mappings()
            return [{**mapping, "basicData": await api.basic_data(str(mapping.get("vin")))}
                    for mapping in mappings]
        except httpx.HTTPError as exc:
            raise unreachable(exc, config.cardata.api_base_url) from None
