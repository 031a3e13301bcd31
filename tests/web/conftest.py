"""A uvicorn server in a thread running the dashboard over a planning facade, with a stand-in
for the service's three control routes (the `POST /api/vehicles/...` contract of the service
issue, guarded by `require_token`), and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, HTTPException
from playwright.sync_api import Browser, sync_playwright
from pydantic import BaseModel

from bench.planning_facade import Car, PlanningFacade
from optimizer.sim.broker import free_port
from optimizer.web.auth import LoginCodes, require_token
from optimizer.web.dashboard import dashboard_router

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]
TOKEN = "test-api-token-0123456789abcdef"
ARTEFACTS = Path(os.environ.get("EVOPT_ARTEFACTS",
                                Path(__file__).resolve().parents[2] / "build" / "screenshots"))


class TargetBody(BaseModel):
    soc_pct: float | None = None
    departure: datetime | None = None


class OnBody(BaseModel):
    on: bool


def control_routes(facade: PlanningFacade) -> APIRouter:
    """What the service's API does for these three routes (its issue's contract)."""
    api = APIRouter(prefix="/api")

    @api.post("/vehicles/{name}/target")
    async def target(name: str, body: TargetBody) -> dict[str, Any]:
        try:
            await facade.set_target(name, body.soc_pct, body.departure)
        except KeyError:
            raise HTTPException(404, f"no vehicle named {name!r}") from None
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"ok": True}

    @api.post("/vehicles/{name}/boost")
    async def boost(name: str, body: OnBody) -> dict[str, Any]:
        await facade.set_boost(name, body.on)
        return {"ok": True}

    @api.post("/vehicles/{name}/smart")
    async def smart(name: str, body: OnBody) -> dict[str, Any]:
        await facade.set_smart(name, body.on)
        return {"ok": True}

    @api.get("/vehicles")
    def vehicles() -> list[dict[str, Any]]:
        return facade.vehicles()

    return api


@dataclass
class Server:
    url: str
    facade: PlanningFacade
    codes: LoginCodes


@contextlib.contextmanager
def serve(facade: PlanningFacade) -> Iterator[Server]:
    codes = LoginCodes()
    app = FastAPI()
    app.include_router(control_routes(facade), dependencies=[Depends(require_token(TOKEN))])
    app.include_router(dashboard_router(facade, TOKEN, codes))
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            timeout_graceful_shutdown=1)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:  # uvicorn's own flag, set once it listens
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield Server(f"http://127.0.0.1:{port}", facade, codes)
    uv.should_exit = True
    thread.join(10)


@pytest.fixture
def server() -> Iterator[Server]:
    with serve(PlanningFacade([Car("iX1", "WBA00000000000001"),
                               Car("Cooper SE", "WMW00000000000002", soc_pct=52.0,
                                   target_soc_pct=90.0, band_pct=6.0)])) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing; install Debian's chromium (.ci/run does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()
