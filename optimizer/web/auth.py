"""Who may use the API and the dashboard: the API token, as a Bearer header or as a cookie.

The dashboard's login page takes the token once and answers with a cookie (HttpOnly, so page
scripts cannot read it; SameSite=Strict, so another site cannot make the browser send it).
The cookie holds an HMAC of the token, not the token: it proves the token was entered, stays
valid across restarts while the token is the same, and dies when the token is replaced.
A one-time login code (the demo prints a link with one) sets the same cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from fastapi import HTTPException, Request

COOKIE = "evopt_session"
CODE_TTL_S = 15 * 60.0


def session_cookie_value(api_token: str) -> str:
    return hmac.new(api_token.encode(), b"ev-optimizer dashboard session",
                    hashlib.sha256).hexdigest()


def token_matches(api_token: str, given: str) -> bool:
    return hmac.compare_digest(api_token.encode(), given.encode())


def is_authenticated(request: Request, api_token: str) -> bool:
    """A valid `Authorization: Bearer <token>` header or dashboard cookie."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token_matches(api_token, credentials.strip()):
        return True
    cookie = request.cookies.get(COOKIE)
    return cookie is not None and hmac.compare_digest(cookie, session_cookie_value(api_token))


def require_token(api_token: str) -> Callable[[Request], None]:
    """A FastAPI dependency for the `/api` routes: 401 without the token or the cookie.

    `app.include_router(api, dependencies=[Depends(require_token(token))])`.
    """

    def check(request: Request) -> None:
        if not is_authenticated(request, api_token):
            raise HTTPException(status_code=401, detail="missing or wrong API token",
                                headers={"WWW-Authenticate": "Bearer"})

    return check


class LoginCodes:
    """One-time login codes: each opens the dashboard once, within `ttl_s` of being issued."""

    def __init__(self, ttl_s: float = CODE_TTL_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._codes: dict[str, float] = {}

    def issue(self) -> str:
        code = secrets.token_urlsafe(24)
        self._codes[code] = self._monotonic() + self._ttl_s
        return code

    def consume(self, code: str) -> bool:
        """True once for a code issued here and not expired; it is gone afterwards."""
        now = self._monotonic()
        self._codes = {c: until for c, until in self._codes.items() if until > now}
        return self._codes.pop(code, None) is not None

    def link(self, base_url: str) -> str:
        """`<base_url>/login?code=...`, the link the demo prints."""
        return f"{base_url.rstrip('/')}/login?code={self.issue()}"
