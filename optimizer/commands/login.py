"""`ev-optimizer login`: the CarData device-code login; saves the tokens in the state dir."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import httpx

from optimizer.cardata.auth import DeviceFlow
from optimizer.cardata.client import http_client, unreachable
from optimizer.cardata.tokens import TokenStore
from optimizer.config import Config, load_config
from optimizer.ports import WallClock


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("login", help="log in to BMW CarData (device code)")
    parser.add_argument("--config", type=Path, default=Path("config.toml"))
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    return asyncio.run(_login(config, args.json))


async def _login(config: Config, as_json: bool) -> int:
    store = TokenStore(config.state_dir)
    async with http_client() as http:
        flow = DeviceFlow(config.cardata, http, clock=WallClock())
        try:
            code = await flow.start()
            if as_json:
                print(json.dumps({"verification_uri": code.verification_uri,
                                  "verification_uri_complete": code.verification_uri_complete,
                                  "user_code": code.user_code,
                                  "expires_in_s": code.expires_in_s}), flush=True)
            else:
                print(f"Open {code.verification_uri_complete}\n"
                      f"and log in with your MyBMW/MINI account (code: {code.user_code}).\n"
                      f"Waiting for approval (the code expires in "
                      f"{code.expires_in_s / 60:.0f} min)...", flush=True)
            tokens = await flow.wait(code)
        except httpx.HTTPError as exc:
            raise unreachable(exc, config.cardata.auth_base_url) from None
    store.save(tokens)
    if as_json:
        print(json.dumps({"ok": True, "gcid": tokens.gcid, "scope": tokens.scope,
                          "token_file": str(store.path),
                          "id_token_expires_at": tokens.id_token_expires_at.isoformat()}))
    else:
        print(f"Logged in (account {tokens.gcid}); tokens saved to {store.path}")
    return 0
