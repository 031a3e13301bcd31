"""The simulated CarData cloud: accounts, tokens, the stream gate, REST state and the quota.

State lives behind one `threading.Condition`: the HTTP server, mosquitto's log reader and the
gate thread each hold it only briefly, and nobody holds it while waiting for mosquitto.

The stream gate decides, at every moment, which password mosquitto holds for a gcid:
* a session is live -> the token it connected with, until that token expires (then the entry
  changes, mosquitto reloads and closes the session: "the stream closes when the id_token
  expires"); any other token, e.g. a second app's or a fresh one used while the old session is
  still up, is refused with CONNACK 5;
* the session just ended -> sometimes nothing for `reconnect_refusal_s` (BMW refuses a reconnect
  right after a disconnect with rc=5);
* otherwise -> the newest unexpired id_token of the account.

Limits of this construction (mosquitto knows passwords, not sessions): a second client that
presents the *same* id_token as the live session is let in (with the same client id it takes
the session over, as MQTT prescribes); and only the newest token opens a new session, where
BMW would accept any unexpired one. Neither matters for a client that logs in once and
refreshes, which is what BMW's rules force anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
import secrets
import string
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from optimizer.ports import Clock, WallClock
from optimizer.sim.broker import LogEvent

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class SimConfig:
    client_id: str = "5B2B4C7A-2D0E-4F1B-9E33-6A0C1D2E3F40"
    gcid: str = "aa111192-d570-4d3d-8835-656ee00edcd7"
    token_lifetime_s: float = 3600.0
    """Lifetime of access and id tokens (BMW: one hour)."""
    refresh_lifetime_s: float = 14 * 24 * 3600.0
    device_code_lifetime_s: float = 300.0
    poll_interval_s: float = 5.0
    enforce_poll_interval: bool = True
    """Answer `slow_down` to polls faster than the interval."""
    send_verification_uri_complete: bool = False
    """BMW often omits it; clients must build it from verification_uri."""
    reconnect_refusal_s: float = 3.0
    reconnect_refusal_probability: float = 0.5
    quota_per_day: int = 50
    max_containers: int = 10
    auto_approve: bool = False
    """Approve every login at once (the demo has no person at a browser)."""
    gateway_faults: int = 0
    """Answer this many token polls with BMW's 500 "keymanagement" fault, which consumes the
    device code (seen during onboarding, reference/cardata.md §1.4)."""
    seed: int = 1


@dataclass
class Session:
    client_id: str
    token: str | None
    since: datetime
    subscribed: bool = False


@dataclass
class DeviceGrant:
    device_code: str
    user_code: str
    challenge: str
    scope: str
    expires_at: datetime
    state: str = "pending"  # pending | approved | denied | used
    last_poll: datetime | None = None


@dataclass
class Issued:
    gcid: str
    scope: str
    expires_at: datetime
    used: bool = False


@dataclass
class StreamStats:
    connections: int = 0
    refusals: int = 0
    max_concurrent: int = 0
    closed_at_expiry: int = 0
    tokens_seen: list[str] = field(default_factory=list)
    """id_tokens that opened a session, in order (to show the stream reconnected with new ones)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Cloud:
    """Everything the simulated BMW back end knows; `Simulator` wires it to I/O."""

    def __init__(self, config: SimConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or WallClock()
        self.cond = threading.Condition()
        self.rng = random.Random(config.seed)
        self._jwt_key = secrets.token_bytes(32)
        self.grants: dict[str, DeviceGrant] = {}
        self.access: dict[str, Issued] = {}
        self.refresh: dict[str, Issued] = {}
        self.id_tokens: dict[str, Issued] = {}
        self.newest_id_token: str | None = None
        self.sessions: dict[str, Session] = {}
        self.blocked_until: datetime | None = None
        self.stats = StreamStats()
        self.quota_day: str = ""
        self.quota_used = 0
        self.containers: dict[str, dict[str, Any]] = {}
        self.gate_version = 0
        self.applied_version = 0
        self.gateway_faults_left = config.gateway_faults
        self.applied_token: str | None = None
        """The gcid's id_token mosquitto checks against now (None: no entry)."""
        self.pending_token: str | None = None
        """The entry written to the password file, in force once mosquitto reloads it."""

    # -- OAuth -----------------------------------------------------------------------------------

    def jwt(self, claims: dict[str, Any]) -> str:
        """A signed JWT (HS256 with a per-run key: clients read `exp`, only we verify)."""
        header = _b64(json.dumps({"typ": "JWT", "alg": "HS256", "kid": "sim"}).encode())
        body = _b64(json.dumps(claims).encode())
        signature = hmac.new(self._jwt_key, f"{header}.{body}".encode(), hashlib.sha256).digest()
        return f"{header}.{body}.{_b64(signature)}"

    def new_device_grant(self, challenge: str, scope: str) -> DeviceGrant:
        now = self.clock.now()
        user_code = "".join(self.rng.choice(string.ascii_letters) for _ in range(8))
        exp = now + timedelta(seconds=self.config.device_code_lifetime_s)
        device_code = self.jwt({"user_code": user_code, "iat": now.timestamp(),
                                "exp": exp.timestamp(), "jti": secrets.token_hex(16)})
        grant = DeviceGrant(device_code, user_code, challenge, scope, exp, last_poll=now,
                            state="approved" if self.config.auto_approve else "pending")
        with self.cond:
            self.grants[device_code] = grant
        return grant

    def decide(self, user_code: str, approve: bool) -> bool:
        """The person approves (or denies) the login on the verification page."""
        with self.cond:
            for grant in self.grants.values():
                if grant.user_code == user_code and grant.state == "pending":
                    grant.state = "approved" if approve else "denied"
                    self.cond.notify_all()
                    return True
        return False

    def issue_tokens(self, scope: str) -> dict[str, Any]:
        """A full token response; the id_token is offered to the stream gate."""
        now = self.clock.now()
        exp = now + timedelta(seconds=self.config.token_lifetime_s)
        gcid = self.config.gcid
        access = secrets.token_urlsafe(48)
        refresh = secrets.token_urlsafe(48)
        id_token = self.jwt({"sub": gcid, "aud": self.config.client_id, "iat": now.timestamp(),
                             "exp": exp.timestamp(), "tokenName": "id_token",
                             "realm": "/customer", "iss": "cardata-simulator"})
        with self.cond:
            self.access[access] = Issued(gcid, scope, exp)
            self.id_tokens[id_token] = Issued(gcid, scope, exp)
            self.refresh[refresh] = Issued(
                gcid, scope, now + timedelta(seconds=self.config.refresh_lifetime_s))
            self.newest_id_token = id_token
            self.gate_version += 1
            self.cond.notify_all()
        return {"access_token": access, "token_type": "Bearer",
                "expires_in": int(self.config.token_lifetime_s) - 1, "refresh_token": refresh,
                "scope": scope, "id_token": id_token, "gcid": gcid}

    def wait_gate_applied(self, timeout: float = 5.0) -> None:
        """Block until mosquitto holds the passwords of the latest gate change."""
        with self.cond:
            target = self.gate_version
            self.cond.wait_for(lambda: self.applied_version >= target, timeout)

    # -- stream gate -----------------------------------------------------------------------------

    def _token_valid(self, token: str | None, now: datetime) -> bool:
        issued = self.id_tokens.get(token) if token else None
        return issued is not None and issued.expires_at > now

    def desired_token(self, now: datetime) -> str | None:
        """The id_token mosquitto should accept for the gcid right now (caller holds cond)."""
        live = next(iter(self.sessions.values()), None)
        if live is not None:
            if self._token_valid(live.token, now):
                return live.token
            # expired: change the entry so mosquitto closes the session on reload
            return self.newest_id_token if self._token_valid(self.newest_id_token, now) else None
        if self.blocked_until is not None and now < self.blocked_until:
            return None
        return self.newest_id_token if self._token_valid(self.newest_id_token, now) else None

    def next_gate_change(self, now: datetime) -> datetime | None:
        """The next moment `desired_token` can change on its own (an expiry, a block ending)."""
        moments = [issued.expires_at for token, issued in self.id_tokens.items()
                   if issued.expires_at > now and (token == self.newest_id_token or any(
                       s.token == token for s in self.sessions.values()))]
        if self.blocked_until is not None and self.blocked_until > now:
            moments.append(self.blocked_until)
        return min(moments, default=None)

    def on_log_event(self, event: LogEvent) -> None:
        """Track stream sessions from mosquitto's log (called by the log reader thread)."""
        now = self.clock.now()
        with self.cond:
            if event.kind == "connected" and event.username == self.config.gcid:
                token = self.applied_token
                self.sessions[event.client_id] = Session(event.client_id, token, now)
                self.stats.connections += 1
                if token is not None:
                    self.stats.tokens_seen.append(token)
                self.stats.max_concurrent = max(self.stats.max_concurrent, len(self.sessions))
            elif event.kind == "subscribed" and event.client_id in self.sessions:
                self.sessions[event.client_id].subscribed = True
            elif event.kind == "refused":
                self.stats.refusals += 1
            elif event.kind == "disconnected" and event.client_id in self.sessions:
                session = self.sessions.pop(event.client_id)
                if not self._token_valid(session.token, now):
                    self.stats.closed_at_expiry += 1
                if (self.config.reconnect_refusal_s > 0 and
                        self.rng.random() < self.config.reconnect_refusal_probability):
                    self.blocked_until = now + timedelta(seconds=self.config.reconnect_refusal_s)
                self.gate_version += 1
            elif event.kind == "reloaded":
                # the log orders this line against connects: later ones use the new file
                self.applied_token = self.pending_token
            elif event.kind == "stopped":
                self.sessions.clear()
                self.applied_token = self.pending_token  # what the next start will load
                self.gate_version += 1
            self.cond.notify_all()

    # -- REST ------------------------------------------------------------------------------------

    def check_access(self, token: str, now: datetime) -> tuple[int, str, str] | None:
        """None if `token` may call the API, else (HTTP status, CU code, note)."""
        issued = self.access.get(token)
        if issued is None:
            return 401, "CU-101", "The presented token is invalid."
        if issued.expires_at <= now:
            return 401, "CU-102", "The presented token is expired."
        if "cardata:api:read" not in issued.scope.split():
            return 403, "CU-103", "Token scope is not CarData."
        return None

    def spend_quota(self, now: datetime) -> bool:
        """Count one REST call against the day's 50 (reset 00:00 UTC); False when exhausted."""
        day = now.astimezone(UTC).date().isoformat()
        with self.cond:
            if day != self.quota_day:
                self.quota_day, self.quota_used = day, 0
            if self.quota_used >= self.config.quota_per_day:
                return False
            self.quota_used += 1
            return True
