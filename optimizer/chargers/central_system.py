"""The OCPP central system: a websockets server stations connect to at `/ocpp/{station_id}`.

The OCPP version is chosen by the WebSocket subprotocol (`ocpp2.0.1` preferred, `ocpp1.6`).
Security profile 1 is HTTP Basic auth with username = station id and a per-station password,
compared in constant time; profile 2 is the same over TLS (pass an `ssl.SSLContext`). Nothing is
accepted without a password: a station can start and stop charging. Binds 127.0.0.1 unless told
otherwise.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import re
import ssl
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from optimizer.chargers.ocpp16 import Session16
from optimizer.chargers.ocpp201 import Session201
from optimizer.chargers.ocpp_charger import OcppCharger
from optimizer.chargers.ocpp_common import SessionSettings
from optimizer.hosts import is_loopback
from optimizer.ports import Clock

log = logging.getLogger(__name__)

SUBPROTOCOLS = ("ocpp2.0.1", "ocpp1.6")
_SESSIONS: dict[str, type[Session16] | type[Session201]] = {
    "ocpp1.6": Session16,
    "ocpp2.0.1": Session201,
}
_PREFIX = "/ocpp/"
_NO_PASSWORD = b"\x00" * 32
"""Compared against when the station is unknown, so an unknown id costs the same time."""


_CREDENTIAL_HEADER = re.compile(r"(?i)\b((?:proxy-)?authorization)\b(\s*[:=]?\s*)(.+)")


class RedactCredentials(logging.Filter):
    """Blanks `Authorization` header values in log records at every level: websockets logs
    each handshake header at DEBUG, and a station's Basic credentials are its password in
    base64. The record keeps the header name, so the log still shows one was sent."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "uthorization" in message or "UTHORIZATION" in message:
            record.msg = _CREDENTIAL_HEADER.sub(r"\1\2[redacted]", message)
            record.args = ()
        return True


WEBSOCKETS_LOG = logging.getLogger("websockets.server")
if not any(isinstance(f, RedactCredentials) for f in WEBSOCKETS_LOG.filters):
    WEBSOCKETS_LOG.addFilter(RedactCredentials())


def station_id_from_path(path: str) -> str | None:
    path = path.split("?", 1)[0].rstrip("/")
    if not path.startswith(_PREFIX):
        return None
    station_id = path[len(_PREFIX):]
    return station_id if station_id and "/" not in station_id else None


def basic_credentials(header: str | None) -> tuple[str, bytes] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None
    return user.decode("utf-8", "replace"), password


def server_ssl_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """Security profile 2: TLS 1.2+ with the central system's certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


class CentralSystem:
    def __init__(
        self,
        clock: Clock,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        allow_insecure: bool = False,
        heartbeat_s: int = 300,
        response_timeout_s: float = 30.0,
    ) -> None:
        if ssl_context is None and not allow_insecure and not is_loopback(host):
            raise ValueError(f"central system on '{host}' without TLS would take station "
                             f"passwords in clear; pass ssl_context (or allow_insecure=True)")
        self._clock = clock
        self._host = host
        self._port = port
        self._ssl = ssl_context
        self._heartbeat_s = heartbeat_s
        self._response_timeout_s = response_timeout_s
        self._stations: dict[str, OcppCharger] = {}
        self._connections: dict[str, ServerConnection] = {}
        self._server: Server | None = None

    def add(self, charger: OcppCharger) -> OcppCharger:
        if charger.station_id in self._stations:
            raise ValueError(f"station id '{charger.station_id}' is configured twice")
        self._stations[charger.station_id] = charger
        return charger

    @property
    def station_ids(self) -> list[str]:
        return list(self._stations)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("central system is not running")
        return int(self._server.sockets[0].getsockname()[1])

    def url(self) -> str:
        scheme = "wss" if self._ssl else "ws"
        return f"{scheme}://{self._host}:{self.port}/ocpp"

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            self._host,
            self._port,
            subprotocols=list(SUBPROTOCOLS),  # type: ignore[arg-type]
            process_request=self._authenticate,
            ssl=self._ssl,
            ping_interval=None,  # stations keep the link alive with OCPP Heartbeats
            logger=WEBSOCKETS_LOG,  # the one with the credentials filter
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> CentralSystem:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _authenticate(self, connection: ServerConnection, request: Request) -> Response | None:
        station_id = station_id_from_path(request.path)
        if station_id is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "connect to /ocpp/<station id>\n")
        charger = self._stations.get(station_id)
        credentials = basic_credentials(request.headers.get("Authorization"))
        user, password = credentials if credentials else ("", b"")
        expected = charger.password if charger else _NO_PASSWORD
        password_ok = hmac.compare_digest(password, expected)
        if charger is None or credentials is None or user != station_id or not password_ok:
            log.warning("OCPP: refused station '%s' from %s: bad or missing credentials",
                        station_id, connection.remote_address)
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "unauthorized\n")
            response.headers["WWW-Authenticate"] = 'Basic realm="ev-optimizer OCPP"'
            return response
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        station_id = station_id_from_path(connection.request.path if connection.request else "")
        charger = self._stations.get(station_id or "")
        session_type = _SESSIONS.get(connection.subprotocol or "")
        if charger is None or session_type is None:
            await connection.close(1002, "unsupported OCPP version")
            return
        previous = self._connections.get(charger.station_id)
        if previous is not None:
            await previous.close(1000, "replaced by a new connection")
        self._connections[charger.station_id] = connection
        settings = SessionSettings(
            events=charger,
            clock=self._clock,
            connector_id=charger.connector_id,
            phases=charger.limits.phases,
            id_tag=charger.id_tag,
            heartbeat_s=self._heartbeat_s,
            response_timeout_s=self._response_timeout_s,
        )
        session: Any = session_type(charger.station_id, connection, settings)
        charger.attach(session)
        log.info("OCPP: station '%s' connected (%s)", charger.station_id, connection.subprotocol)
        try:
            await session.start()
        except ConnectionClosed:
            pass
        finally:
            charger.detach(session)
            if self._connections.get(charger.station_id) is connection:
                del self._connections[charger.station_id]
            log.info("OCPP: station '%s' disconnected", charger.station_id)
