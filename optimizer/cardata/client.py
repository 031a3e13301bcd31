"""Building the CarData adapters from the config, for the CLI commands and the service."""

from __future__ import annotations

import httpx

from optimizer.cardata.api import CardataApi
from optimizer.cardata.auth import TokenManager
from optimizer.cardata.quota import QuotaLedger
from optimizer.cardata.tokens import TokenStore
from optimizer.config import Config
from optimizer.errors import UserError
from optimizer.ports import WallClock

HTTP_TIMEOUT_S = 30.0


def http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=HTTP_TIMEOUT_S)


def token_manager(config: Config, http: httpx.AsyncClient) -> TokenManager:
    return TokenManager(config.cardata, TokenStore(config.state_dir), http, clock=WallClock())


def api_client(config: Config, http: httpx.AsyncClient) -> CardataApi:
    return CardataApi(config.cardata, token_manager(config, http), QuotaLedger(config.state_dir),
                      http, clock=WallClock())


def unreachable(exc: httpx.HTTPError, what: str) -> UserError:
    """A network failure as a message that names the endpoint, never a traceback."""
    return UserError(f"cannot reach CarData at {what}: {type(exc).__name__} {exc}".rstrip())
