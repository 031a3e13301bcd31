"""CarData login (OAuth2 device code with PKCE) and token refresh, over httpx.

The flow and its quirks are BMW's (reference/cardata.md §1): `authorization_pending` arrives as
HTTP 403, not the RFC's 400; `slow_down` adds 5 s to the poll interval; `verification_uri_complete`
is often missing and is then built from `verification_uri?user_code=`; a 500 "keymanagement"
fault means the device code is consumed, so the flow fails fast instead of polling on into
`access_denied`. The scope is sent explicitly: without `cardata:api:read` every REST call fails
with CU-103.

Nothing here logs a token: log lines carry endpoints, HTTP statuses and error codes only.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from optimizer.cardata.settings import CardataSettings
from optimizer.cardata.tokens import LoginRequired, TokenSet, TokenStore
from optimizer.errors import UserError
from optimizer.ports import Clock

log = logging.getLogger(__name__)

SCOPE = "authenticate_user openid cardata:api:read cardata:streaming:read"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP_S = 5.0
SERVER_ERROR_RETRIES = 3
REFRESH_MARGIN = timedelta(minutes=10)
"""Refresh this long before the id_token expires, so the stream reconnects before BMW closes it."""

Sleep = Callable[[float], Awaitable[None]]


class LoginError(UserError):
    """The device-code login failed; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class DeviceCode:
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    interval_s: float
    expires_in_s: float

    def __repr__(self) -> str:  # the device code is a credential until it expires
        return f"DeviceCode(user_code={self.user_code!r}, uri={self.verification_uri!r})"


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge): 86 unreserved characters, base64url SHA-256."""
    verifier = secrets.token_urlsafe(64)[:86]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """(error, description) of an OAuth error body; ('', text) when it is not JSON."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200]
    if not isinstance(body, dict):
        return "", str(body)[:200]
    fault = body.get("fault")
    if isinstance(fault, dict):
        detail = fault.get("detail")
        code = detail.get("errorcode", "") if isinstance(detail, dict) else ""
        return str(code), str(fault.get("faultstring", ""))
    return str(body.get("error", "")), str(body.get("error_description", ""))


class DeviceFlow:
    """One login attempt: `start()` asks for a user code, `wait()` polls until tokens arrive."""

    def __init__(self, settings: CardataSettings, http: httpx.AsyncClient, *, clock: Clock,
                 sleep: Sleep = asyncio.sleep) -> None:
        if not settings.client_id:
            raise LoginError("[cardata] client_id is not set in the config; create a CarData "
                             "client in the MyBMW portal and put its id there")
        self.client_id = settings.client_id
        self.base = settings.auth_base_url.rstrip("/")
        self.http = http
        self.clock = clock
        self.sleep = sleep
        self.verifier, self.challenge = pkce_pair()

    async def start(self) -> DeviceCode:
        response = await self.http.post(
            f"{self.base}/device/code",
            data={"client_id": self.client_id, "response_type": "device_code", "scope": SCOPE,
                  "code_challenge": self.challenge, "code_challenge_method": "S256"},
            headers={"Accept": "application/json"},
        )
        if response.status_code != 200:
            error, description = _error_of(response)
            raise LoginError(
                f"BMW refused the login request (HTTP {response.status_code} {error}: "
                f"{description}); check that [cardata] client_id is right and that the client "
                f"is subscribed to CarData API and CarData Stream in the MyBMW portal")
        body = response.json()
        try:
            uri = str(body["verification_uri"])
            user_code = str(body["user_code"])
            code = DeviceCode(
                device_code=str(body["device_code"]), user_code=user_code, verification_uri=uri,
                verification_uri_complete=str(body.get("verification_uri_complete")
                                              or f"{uri}?user_code={user_code}"),
                interval_s=float(body.get("interval", 5)),
                expires_in_s=float(body.get("expires_in", 600)))
        except (KeyError, TypeError, ValueError) as exc:
            raise LoginError(f"BMW's device-code response lacks {exc}; try again later") from None
        log.info("device code issued, expires in %.0f s", code.expires_in_s)
        return code

    async def wait(self, code: DeviceCode) -> TokenSet:
        """Poll the token endpoint until the person approves, refuses, or the code expires."""
        started = self.clock.now()
        deadline = started + timedelta(seconds=code.expires_in_s)
        interval = code.interval_s
        server_errors = 0
        while True:
            await self.sleep(interval)
            if self.clock.now() >= deadline:
                raise LoginError("the user code expired before it was approved; "
                                 "run `ev-optimizer login` again and approve within "
                                 f"{code.expires_in_s / 60:.0f} minutes")
            response = await self.http.post(f"{self.base}/token", data={
                "client_id": self.client_id, "device_code": code.device_code,
                "grant_type": DEVICE_CODE_GRANT, "code_verifier": self.verifier})
            if response.status_code == 200:
                log.info("login approved")
                return TokenSet.from_response(response.json(), client_id=self.client_id,
                                              now=self.clock.now())
            error, description = _error_of(response)
            log.info("token poll: HTTP %d %s", response.status_code, error or "-")
            if error == "authorization_pending" or (response.status_code == 403 and not error):
                continue
            if error == "slow_down":
                interval += SLOW_DOWN_STEP_S
                continue
            if error == "access_denied":
                raise LoginError("the login was denied (or the client is not subscribed to the "
                                 "CarData services in the MyBMW portal); run login again")
            if error in ("expired_token", "invalid_grant"):
                raise LoginError(f"the user code is no longer valid ({error}); "
                                 "run `ev-optimizer login` again")
            if "keymanagement" in error:
                raise LoginError("BMW's login service failed (invalid_access_token fault) and "
                                 "consumed the code; wait a minute and run login again")
            if response.status_code >= 500 and server_errors < SERVER_ERROR_RETRIES:
                server_errors += 1
                continue
            raise LoginError(f"unexpected answer while waiting for approval: HTTP "
                             f"{response.status_code} {error} {description}".rstrip())


class TokenManager:
    """Hands out tokens that are valid for a while, refreshing (and persisting) them first.

    One lock serialises refreshes: the refresh token rotates, so two concurrent refreshes
    would leave one caller with a dead token.
    """

    def __init__(self, settings: CardataSettings, store: TokenStore, http: httpx.AsyncClient,
                 *, clock: Clock, margin: timedelta = REFRESH_MARGIN) -> None:
        self.base = settings.auth_base_url.rstrip("/")
        self.store = store
        self.http = http
        self.clock = clock
        self.margin = margin
        self._lock = asyncio.Lock()
        self._tokens: TokenSet | None = None

    def current(self) -> TokenSet:
        if self._tokens is None:
            self._tokens = self.store.require()
        return self._tokens

    async def valid(self, *, force: bool = False) -> TokenSet:
        """Tokens good for at least the refresh margin; `force` refreshes regardless (after
        the broker or API refused the current ones)."""
        async with self._lock:
            tokens = self.current()
            if force or self.clock.now() >= tokens.refresh_due_at(self.margin):
                tokens = await self._refresh(tokens)
            return tokens

    async def _refresh(self, tokens: TokenSet) -> TokenSet:
        now = self.clock.now()
        if now >= tokens.refresh_expires_at:
            raise LoginRequired("the CarData refresh token has expired (they last two weeks); "
                                "run `ev-optimizer login` again")
        response = await self.http.post(f"{self.base}/token", data={
            "grant_type": "refresh_token", "refresh_token": tokens.refresh_token,
            "client_id": tokens.client_id, "scope": tokens.scope or SCOPE})
        if response.status_code != 200:
            error, _ = _error_of(response)
            log.warning("token refresh refused: HTTP %d %s", response.status_code, error or "-")
            if response.status_code >= 500:
                raise httpx.HTTPStatusError("token endpoint unavailable",
                                            request=response.request, response=response)
            raise LoginRequired(f"BMW refused the token refresh (HTTP {response.status_code} "
                                f"{error}); run `ev-optimizer login` again")
        body: Any = response.json()
        fresh = TokenSet.from_response(body, client_id=tokens.client_id, now=self.clock.now(),
                                       previous=tokens)
        self.store.save(fresh)  # before use: the old refresh token is dead now
        self._tokens = fresh
        log.info("tokens refreshed; id_token valid until %s", fresh.id_token_expires_at)
        return fresh
