"""The web dashboard on the service's HTTP server: `dashboard_router(facade, api_token)`.

`GET /` is the page (its script sends a browser without the cookie to `/login`),
`GET /dashboard/events` streams the vehicles and
sessions as server-sent events from `facade.changes()`, and the page's controls call the
service's `POST /api/vehicles/...` routes, which accept the dashboard cookie through
`require_token`. The page is our own HTML, CSS and JS from package data, drawing its charts
as SVG; it loads nothing from anywhere else, so it works offline.
"""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import AsyncIterator
from importlib import resources
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse

from optimizer.aio import result_within, stop_tasks
from optimizer.web.auth import (
    COOKIE,
    LoginCodes,
    is_authenticated,
    session_cookie_value,
    token_matches,
)
from optimizer.web.facade import ServiceFacade, VehicleView

KEEPALIVE_S = 15.0
COOKIE_MAX_AGE_S = 365 * 24 * 3600
_ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                                       "frame-ancestors 'none'"}


def _asset(name: str) -> str:
    return resources.files("optimizer.web").joinpath("static", name).read_text("utf-8")


def _login_page(message: str = "") -> str:
    note = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    return _asset("login.html").replace("<!--message-->", note)


def _signed_in(api_token: str) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, session_cookie_value(api_token), max_age=COOKIE_MAX_AGE_S,
                        httponly=True, samesite="strict", path="/")
    return response


def _event(facade: ServiceFacade, vehicles: list[VehicleView]) -> str:
    data = json.dumps({"vehicles": vehicles, "sessions": facade.sessions()},
                      separators=(",", ":"))
    return f"event: snapshot\ndata: {data}\n\n"


async def _events(facade: ServiceFacade) -> AsyncIterator[str]:
    """The current snapshot, then one per change; a comment now and then keeps proxies open.
    The stream ends when `facade.changes()` does (the service is stopping)."""
    queue: asyncio.Queue[list[VehicleView] | None] = asyncio.Queue()
    ended = asyncio.Event()

    async def pump() -> None:
        try:
            async for vehicles in facade.changes():
                queue.put_nowait(vehicles)
        finally:
            ended.set()
            queue.put_nowait(None)

    task = asyncio.create_task(pump())
    try:
        yield _event(facade, facade.vehicles())
        while True:
            got = await result_within(queue.get(), KEEPALIVE_S)
            if got is None:
                if ended.is_set():
                    return
                yield ": keepalive\n\n"
                continue
            vehicles = got
            while not queue.empty():  # a burst of changes: only the newest matters
                newer = queue.get_nowait()
                if newer is None:  # the end: this snapshot is the last
                    queue.put_nowait(None)
                    break
                vehicles = newer
            yield _event(facade, vehicles)
    finally:
        await stop_tasks([task])


def dashboard_router(facade: ServiceFacade, api_token: str,
                     codes: LoginCodes | None = None) -> APIRouter:
    """The dashboard's routes; `codes` issues the one-time login links (the demo's)."""
    router = APIRouter(include_in_schema=False)
    login_codes = codes or LoginCodes()

    @router.get("/")
    def page() -> Response:
        # the page holds no data (that comes over the event stream, which needs the
        # cookie), so it is served to anyone; its script sends a stranger to /login
        return HTMLResponse(_asset("index.html"), headers=_HEADERS)

    @router.get("/dashboard/session")
    def session(request: Request) -> dict[str, bool]:
        if not is_authenticated(request, api_token):
            raise HTTPException(status_code=401, detail="log in first")
        return {"ok": True}

    @router.get("/login")
    def login_form(request: Request, code: str | None = None) -> Response:
        if code is not None:
            if login_codes.consume(code):
                return _signed_in(api_token)
            return HTMLResponse(_login_page("This login link was used already or has "
                                            "expired; enter the API token instead."),
                                status_code=401, headers=_HEADERS)
        if is_authenticated(request, api_token):
            return RedirectResponse("/", status_code=303)
        return HTMLResponse(_login_page(), headers=_HEADERS)

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        given = (form.get("token") or [""])[0].strip()
        if given and token_matches(api_token, given):
            return _signed_in(api_token)
        return HTMLResponse(_login_page("That is not the API token. It is in the file "
                                        "api_token in the service's state directory."),
                            status_code=401, headers=_HEADERS)

    @router.post("/logout")
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    @router.get("/dashboard/events")
    def events(request: Request) -> Response:
        if not is_authenticated(request, api_token):
            raise HTTPException(status_code=401, detail="log in first")
        return StreamingResponse(_events(facade), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    @router.get("/dashboard/{name}")
    def asset(name: str) -> Response:
        if name not in _ASSETS:
            raise HTTPException(status_code=404)
        return Response(_asset(name), media_type=_ASSETS[name], headers=_HEADERS)

    return router
