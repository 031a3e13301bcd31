"""The JSON HTTP API (FastAPI, OpenAPI at /openapi.json) over a `ServiceFacade`.

Every `/api` request needs `Authorization: Bearer <token>` (the token lives in
`<state_dir>/api_token`, mode 0600) or the dashboard's cookie: anything here can start or stop a
charger. The dashboard (`GET /`, its login and event stream) is mounted on the same app.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, field_validator

from optimizer.web.auth import LoginCodes, require_token
from optimizer.web.dashboard import dashboard_router
from optimizer.web.facade import ServiceFacade, SessionView, VehicleView


class TargetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    soc_pct: float | None = Field(default=None, gt=0, le=100)
    departure: datetime | None = None

    @field_validator("departure")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("departure needs a UTC offset, e.g. 2026-03-06T07:30:00+01:00")
        return value


class SwitchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: bool


_BEARER = HTTPBearer(auto_error=False, description="the token in <state_dir>/api_token")
# (FastAPI resolves these annotations at run time, hence no `from __future__ import annotations`)


def _documented(
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
) -> None:
    """Declares the bearer scheme in the OpenAPI schema (`require_token` enforces it)."""


def build_app(facade: ServiceFacade, api_token: str,
              codes: LoginCodes | None = None) -> FastAPI:
    """The API under `/api` (Bearer token or the dashboard's cookie) and the dashboard at
    `/`; `codes` issues the dashboard's one-time login links."""
    app = FastAPI(title="ev-optimizer", summary="Smart charging for BMW and MINI cars",
                  version="0.1.0")

    app.include_router(dashboard_router(facade, api_token, codes))
    auth = [Depends(require_token(api_token)), Depends(_documented)]

    def vehicle(name: str) -> VehicleView:
        for view in facade.vehicles():
            if view["name"] == name:
                return view
        raise HTTPException(404, f"no vehicle named '{name}'")

    async def command(name: str, action: Callable[[], Awaitable[None]]) -> VehicleView:
        vehicle(name)
        try:
            await action()
        except KeyError:
            raise HTTPException(404, f"no vehicle named '{name}'") from None
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return vehicle(name)

    @app.get("/api/vehicles", dependencies=auth)
    def vehicles() -> list[VehicleView]:
        return facade.vehicles()

    @app.post("/api/vehicles/{name}/target", dependencies=auth)
    async def target(name: str, body: TargetBody) -> VehicleView:
        return await command(name, lambda: facade.set_target(name, body.soc_pct,
                                                             body.departure))

    @app.post("/api/vehicles/{name}/boost", dependencies=auth)
    async def boost(name: str, body: SwitchBody) -> VehicleView:
        return await command(name, lambda: facade.set_boost(name, body.on))

    @app.post("/api/vehicles/{name}/smart", dependencies=auth)
    async def smart(name: str, body: SwitchBody) -> VehicleView:
        return await command(name, lambda: facade.set_smart(name, body.on))

    @app.get("/api/sessions", dependencies=auth)
    def sessions() -> list[SessionView]:
        return facade.sessions()

    @app.get("/api/health", dependencies=auth)
    def health() -> dict[str, Any]:
        return facade.health()

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                   dependencies=auth, include_in_schema=False)
    def unknown(rest: str) -> None:
        # guarded like the rest: a stranger learns nothing, not even which paths exist
        raise HTTPException(404, f"no API route /api/{rest}")

    return app
