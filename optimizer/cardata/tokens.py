"""The CarData token set and its file in the state directory.

What is stored and why (reference/cardata.md §1.5-1.7): the `access_token` authorises REST calls,
the `id_token` is the MQTT password and its `exp` decides when the stream is closed, the
`refresh_token` rotates on every refresh (so the new one must be persisted before it is used),
and `gcid` is the MQTT username and topic prefix; refresh responses may omit it, so the one from
the first login is kept. The file is JSON, mode 0600, written atomically; `repr` of a token set
never shows a secret, so one can be logged by mistake without leaking anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from optimizer.cardata.files import read_json, remove_stale_temp_files, write_json_atomic
from optimizer.cardata.jwt import claims
from optimizer.errors import InputError, UserError

TOKEN_FILE = "cardata_tokens.json"
REFRESH_LIFETIME = timedelta(weeks=2)
"""BMW refresh tokens are valid two weeks (guide §2.3.3)."""


class LoginRequired(UserError):
    """No usable tokens: the person has to run `ev-optimizer login` (again)."""


@dataclass(frozen=True)
class TokenSet:
    client_id: str
    gcid: str
    access_token: str
    id_token: str
    refresh_token: str
    scope: str
    obtained_at: datetime
    expires_at: datetime
    """When the access token expires (from `expires_in`)."""
    id_token_expires_at: datetime
    """The id_token's `exp` claim when readable, else `expires_at`: the stream closes then."""
    refresh_expires_at: datetime

    def __repr__(self) -> str:
        return (f"TokenSet(gcid={self.gcid!r}, scope={self.scope!r}, "
                f"id_token_expires_at={self.id_token_expires_at.isoformat()}, secrets=<hidden>)")

    __str__ = __repr__

    @property
    def secrets(self) -> tuple[str, str, str]:
        return self.access_token, self.id_token, self.refresh_token

    def refresh_due_at(self, margin: timedelta) -> datetime:
        """When to refresh: `margin` before the id_token expires, but never later than half
        its lifetime, so a short-lived token (the simulator's) does not refresh in a loop."""
        lifetime = self.id_token_expires_at - self.obtained_at
        return self.id_token_expires_at - min(margin, lifetime / 2)

    @classmethod
    def from_response(cls, body: dict[str, Any], *, client_id: str, now: datetime,
                      previous: TokenSet | None = None) -> TokenSet:
        """Build from a token-endpoint response; keeps `gcid` (and a missing refresh token)
        from `previous`."""
        try:
            access = str(body["access_token"])
            id_token = str(body["id_token"])
            expires_in = float(body.get("expires_in", 3600))
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"CarData token response lacks a usable {exc}; "
                            f"was the scope 'openid' granted?") from None
        refresh = body.get("refresh_token") or (previous.refresh_token if previous else None)
        gcid = body.get("gcid") or (previous.gcid if previous else None)
        if not refresh or not gcid:
            raise UserError("CarData token response has no refresh_token or gcid; "
                            "run `ev-optimizer login` again")
        expires_at = now + timedelta(seconds=expires_in)
        exp = claims(id_token).get("exp")
        id_expires = (datetime.fromtimestamp(exp, tz=now.tzinfo)
                      if isinstance(exp, int | float) and not isinstance(exp, bool)
                      else expires_at)
        return cls(client_id=client_id, gcid=str(gcid), access_token=access, id_token=id_token,
                   refresh_token=str(refresh), scope=str(body.get("scope", "")),
                   obtained_at=now, expires_at=expires_at, id_token_expires_at=id_expires,
                   refresh_expires_at=now + REFRESH_LIFETIME)

    def to_json(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id, "gcid": self.gcid, "access_token": self.access_token,
            "id_token": self.id_token, "refresh_token": self.refresh_token, "scope": self.scope,
            "obtained_at": self.obtained_at.isoformat(), "expires_at": self.expires_at.isoformat(),
            "id_token_expires_at": self.id_token_expires_at.isoformat(),
            "refresh_expires_at": self.refresh_expires_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Any, source: Path) -> TokenSet:
        try:
            def stamp(key: str) -> datetime:
                return datetime.fromisoformat(data[key])

            return cls(client_id=str(data["client_id"]), gcid=str(data["gcid"]),
                       access_token=str(data["access_token"]), id_token=str(data["id_token"]),
                       refresh_token=str(data["refresh_token"]), scope=str(data["scope"]),
                       obtained_at=stamp("obtained_at"), expires_at=stamp("expires_at"),
                       id_token_expires_at=stamp("id_token_expires_at"),
                       refresh_expires_at=stamp("refresh_expires_at"))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{source}: token file is damaged ({exc!s}); "
                             f"run `ev-optimizer login` again") from None


class TokenStore:
    """The token file `<state_dir>/cardata_tokens.json`."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / TOKEN_FILE
        remove_stale_temp_files(self.path)  # a killed writer's leftover holds full tokens

    def load(self) -> TokenSet | None:
        data = read_json(self.path)
        return None if data is None else TokenSet.from_json(data, self.path)

    def require(self) -> TokenSet:
        tokens = self.load()
        if tokens is None:
            raise LoginRequired(f"no CarData login found ({self.path} is missing); "
                                f"run `ev-optimizer login` first")
        return tokens

    def save(self, tokens: TokenSet) -> None:
        write_json_atomic(self.path, tokens.to_json())
