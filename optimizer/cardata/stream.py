"""The CarData MQTT stream: one connection per account, kept alive across BMW's rules.

BMW's rules (reference/cardata.md §2.1-2.3) and what this client does about each:

* one connection per GCID, a second one is refused with CONNACK 5 -> one `CardataStream` per
  account runs one connection at a time, and a process-wide registry refuses a second stream
  for the same GCID;
* the stream is closed when the 1-hour id_token expires -> the connection is given up
  deliberately a margin before `exp`, the token refreshed, and a new connection made with it;
* TLS 1.3 only, hostname verified -> the default SSL context (plus an optional extra CA for the
  simulator), minimum version TLS 1.2 so 1.3 is negotiated whenever offered;
* a reconnect right after a disconnect may be refused with rc=5 -> wait at least 10 s and refresh
  the token before the next attempt; any other failure backs off exponentially 5 s -> 300 s
  with jitter, so a fleet of clients does not reconnect in lockstep;
* MQTT 3.1.1, clean session, keepalive 30 s (BMW drops clients silent for ~60 s), username
  gcid, password id_token, subscription `<gcid>/+` at QoS 0.

Time and sleeping are injected (`clock`, `sleep`), so tests can run the policy in scaled time.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import aiomqtt
import httpx
from aiomqtt.exceptions import MqttConnectError

from optimizer.cardata.auth import Sleep, TokenManager
from optimizer.cardata.messages import MessageError, parse_message
from optimizer.cardata.settings import CardataSettings
from optimizer.cardata.tokens import TokenSet
from optimizer.errors import UserError
from optimizer.events import VehicleEvent
from optimizer.ports import Clock

log = logging.getLogger(__name__)

NOT_AUTHORISED = {5, 135}
"""CONNACK 5 "not authorised" (paho 2 reports MQTT 3.1.1 codes as v5 reason 135)."""
BAD_CREDENTIALS = {4, 134}


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    keepalive_s: int = 30
    rc5_wait_s: float = 10.0
    backoff_initial_s: float = 5.0
    backoff_max_s: float = 300.0
    jitter: float = 0.2
    """Delays are stretched by a random factor in [1, 1 + jitter]: never shorter than the rule."""
    connect_timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class StreamMessage:
    topic: str
    payload: bytes
    received_at: datetime


@dataclass
class StreamStats:
    connections: int = 0
    messages: int = 0
    invalid_messages: int = 0
    planned_reconnects: int = 0
    refused_rc5: int = 0
    failures: int = 0
    delays_s: list[float] = field(default_factory=list)
    """Every wait before a reconnect, in order (what the policy decided)."""


class StreamBusy(UserError):
    """A stream for this account is already running in this process."""


_ACTIVE: set[str] = set()
"""GCIDs with a running stream in this process: BMW allows one connection per account."""


def tls_context(settings: CardataSettings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.ca_file is not None:
        context.load_verify_locations(cafile=str(settings.ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


Handler = Callable[[StreamMessage], Awaitable[None]]


class CardataStream:
    def __init__(self, settings: CardataSettings, tokens: TokenManager, *, clock: Clock,
                 sleep: Sleep = asyncio.sleep, policy: StreamPolicy | None = None,
                 rng: random.Random | None = None,
                 on_connected: Callable[[TokenSet], None] | None = None) -> None:
        self.settings = settings
        self.tokens = tokens
        self.clock = clock
        self.sleep = sleep
        self.policy = policy or StreamPolicy()
        self.rng = rng or random.Random()
        self.on_connected = on_connected
        self.stats = StreamStats()
        self._tls = tls_context(settings)

    def _delay(self, base_s: float) -> float:
        return base_s * (1.0 + self.rng.uniform(0.0, self.policy.jitter))

    def _backoff(self, failures: int) -> float:
        base = min(self.policy.backoff_max_s,
                   self.policy.backoff_initial_s * 2 ** max(0, failures - 1))
        return min(self.policy.backoff_max_s, self._delay(base))

    async def run(self, handle: Handler) -> None:
        """Receive messages forever (until cancelled); `handle` is awaited for each one.

        Raises `LoginRequired` when the tokens cannot be refreshed any more: only a new login
        helps then, retrying would just hammer BMW.
        """
        gcid = self.tokens.current().gcid
        if gcid in _ACTIVE:
            raise StreamBusy(f"a CarData stream for account {gcid} is already running; BMW "
                             f"allows one connection per account")
        _ACTIVE.add(gcid)
        try:
            await self._loop(handle)
        finally:
            _ACTIVE.discard(gcid)

    async def _loop(self, handle: Handler) -> None:
        failures = 0
        force_refresh = False
        while True:
            try:
                tokens = await self.tokens.valid(force=force_refresh)
            except httpx.HTTPError as exc:
                failures += 1
                delay = self._backoff(failures)
                log.warning("token refresh failed (%s); retrying in %.0f s",
                            type(exc).__name__, delay)
                await self._wait(delay)
                continue
            force_refresh = False
            connections = self.stats.connections
            try:
                await self._session(tokens, handle)
                failures = 0
                self.stats.planned_reconnects += 1
                log.info("reconnecting with a fresh token before the id_token expires")
                continue
            except aiomqtt.MqttCodeError as exc:
                code = exc.rc if isinstance(exc.rc, int | None) else exc.rc.value
                if isinstance(exc, MqttConnectError) and (
                        code in NOT_AUTHORISED or code in BAD_CREDENTIALS):
                    # BMW: a second connection, or a reconnect too soon after a disconnect;
                    # or our token is no longer accepted. Either way: wait, then a new token.
                    self.stats.refused_rc5 += 1
                    force_refresh = True
                    failures += 1
                    delay = max(self._delay(self.policy.rc5_wait_s), self._backoff(failures))
                    log.warning("stream refused (rc=%s); refreshing the token and retrying in "
                                "%.0f s", code, delay)
                    await self._wait(delay)
                    continue
                error: Exception = exc
            except aiomqtt.MqttError as exc:
                error = exc
            if self.stats.connections > connections:
                failures = 0  # it was up: a new outage starts the backoff from 5 s again
            failures += 1
            self.stats.failures += 1
            if self.clock.now() >= self.tokens.current().refresh_due_at(self.tokens.margin):
                force_refresh = True  # the broker closed us at expiry: come back with a new one
            delay = self._backoff(failures)
            log.warning("stream connection lost (%s); reconnecting in %.0f s", error, delay)
            await self._wait(delay)

    async def _wait(self, delay_s: float) -> None:
        self.stats.delays_s.append(delay_s)
        await self.sleep(delay_s)

    async def _session(self, tokens: TokenSet, handle: Handler) -> None:
        """One connection, held until the token's refresh time; returns to reconnect."""
        deadline = tokens.refresh_due_at(self.tokens.margin)
        async with aiomqtt.Client(
            self.settings.stream_host, self.settings.stream_port,
            username=tokens.gcid, password=tokens.id_token, identifier=tokens.gcid,
            protocol=aiomqtt.ProtocolVersion.V311, clean_session=True,
            keepalive=self.policy.keepalive_s, tls_context=self._tls,
            timeout=self.policy.connect_timeout_s,
        ) as client:
            await client.subscribe(f"{tokens.gcid}/+", qos=0)
            self.stats.connections += 1
            log.info("stream connected to %s:%d", self.settings.stream_host,
                     self.settings.stream_port)
            if self.on_connected is not None:
                self.on_connected(tokens)
            messages = aiter(client.messages)
            while True:
                remaining = (deadline - self.clock.now()).total_seconds()
                if remaining <= 0:
                    return
                try:
                    message = await asyncio.wait_for(anext(messages), remaining)
                except TimeoutError:
                    return
                self.stats.messages += 1
                payload = message.payload
                data = payload if isinstance(payload, bytes) else str(payload).encode()
                await handle(StreamMessage(str(message.topic), data, self.clock.now()))

    async def events(self) -> AsyncIterator[VehicleEvent]:
        """The `VehicleSource` port: normalised events; invalid messages counted and logged."""
        queue: asyncio.Queue[VehicleEvent] = asyncio.Queue()

        async def handle(message: StreamMessage) -> None:
            for event in self.parse(message):
                queue.put_nowait(event)

        runner = asyncio.create_task(self.run(handle))
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, runner},
                                             return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    yield getter.result()
                    continue
                getter.cancel()
                runner.result()  # re-raise why the stream stopped
                return
        finally:
            runner.cancel()

    def parse(self, message: StreamMessage) -> list[VehicleEvent]:
        try:
            return parse_message(message.payload, message.received_at)
        except MessageError as exc:
            self.stats.invalid_messages += 1
            log.warning("skipped message %d on %s: %s", self.stats.invalid_messages,
                        message.topic, exc)
            return []

