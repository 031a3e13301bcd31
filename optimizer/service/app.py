"""`run_service`: the whole service, assembled from the config, until SIGTERM/SIGINT.

One task per adapter (the CarData stream, each charger's status and meter, the slot ticker,
the HTTP server, and any extra adapters such as an MQTT entity publisher), all feeding the one
queue of `Service`. On a stop signal it stops taking input, leaves every charger safe, flushes
and returns, well inside the 10 s a supervisor allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from optimizer.cardata.api import CONTAINER_NAME, ApiError, CardataApi
from optimizer.cardata.auth import TokenManager
from optimizer.cardata.messages import MessageError, parse_telematic_data
from optimizer.cardata.quota import QuotaExhausted, QuotaLedger
from optimizer.cardata.stream import CardataStream, StreamMessage
from optimizer.cardata.tokens import LoginRequired, TokenStore
from optimizer.chargers.errors import ChargerError
from optimizer.chargers.factory import open_chargers
from optimizer.chargers.modbus import ModbusCharger
from optimizer.chargers.ocpp_charger import OcppCharger
from optimizer.config import Config
from optimizer.errors import UserError
from optimizer.events import ChargerState
from optimizer.model import SLOT
from optimizer.ports import Charger, MeterSource, Notifier, PriceSource
from optimizer.prices.source import TariffPrices
from optimizer.service.api_token import ensure_api_token
from optimizer.service.clock import WallClock
from optimizer.service.core import Service, ServiceClock, Vehicle
from optimizer.service.database import ServiceDatabase
from optimizer.service.prices import keep_prices_fresh, open_prices
from optimizer.service.tell import open_tell
from optimizer.session import CARDATA_LOGIN, Attention, ChargerStatusChanged, SocRefreshFailed
from optimizer.web.api import build_app
from optimizer.web.auth import LoginCodes
from optimizer.web.facade import ServiceFacade

log = logging.getLogger(__name__)

Adapter = Callable[[ServiceFacade], Awaitable[None]]
CONTAINER_KEY = "cardata/container_id"
LOGIN_RETRY_S = 60.0
CLOSE_BUDGET_S = 2.0
"""Shutdown budget, 8 s in all: HTTP 2 s, queue 1 s, chargers' safe state 3 s, closing 2 s."""


@dataclass(frozen=True, slots=True)
class Started:
    """What `on_started` hears once the service is up."""

    api_url: str
    token_file: Path
    service: Service


@dataclass
class ServiceOptions:
    clock: ServiceClock = field(default_factory=WallClock)
    prices: PriceSource | None = None
    """Default: the config's tariff file."""
    notifiers: Sequence[Notifier] = ()
    adapters: Sequence[Adapter] = ()
    """Extra tasks that only see the facade (e.g. the Home Assistant MQTT entities)."""
    on_started: Callable[[Started], None] | None = None
    stop: asyncio.Event | None = None
    """Set it to stop the service (SIGTERM and SIGINT set it too)."""
    charger_base: Path = Path(".")
    """Relative paths inside `[chargers.*]` tables are relative to this (the config's dir)."""
    login_codes: LoginCodes | None = None
    """Issues the dashboard's one-time login links (the demo prints one)."""


async def run_service(config: Config, options: ServiceOptions | None = None) -> None:
    options = options or ServiceOptions()
    clock = options.clock
    stop = options.stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    prices = options.prices or open_prices(config)
    token = ensure_api_token(config.state_dir)
    db = ServiceDatabase(config.state_dir, event_log_rows=config.service.event_log_rows)
    service = Service(config, db, clock, prices, notifiers=options.notifiers)
    tasks: list[asyncio.Task[Any]] = []
    station_errors = _Counting(service, "station_bad_messages")
    logging.getLogger("ocpp").addHandler(station_errors)
    stack = contextlib.AsyncExitStack()
    try:
        async with _bounded_exit(stack):
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=30.0))
            tell = await stack.enter_async_context(open_tell(config, db.path))
            service.notifiers += tell.notifiers
            chargers = await stack.enter_async_context(open_chargers(
                [c for c in config.chargers if c.kind != "simulated"], options.charger_base,
                clock, lazy=True))

            def spawn(coro: Awaitable[Any], name: str) -> None:
                tasks.append(asyncio.ensure_future(_guarded(coro, name)))

            spawn(service.run(), "core")
            for name, charger in chargers.items():
                service.attach_charger(name, charger)
                vehicles = [v for v in service.fleet.values()
                            if v.charger_config.name == name]
                if isinstance(charger, ModbusCharger):
                    charger.start_heartbeat()
                if isinstance(charger, OcppCharger):
                    spawn(_watch_ocpp(service, vehicles, charger), f"charger {name}")
                else:
                    spawn(_poll_charger(service, vehicles, charger,
                                        config.service.charger_poll_s), f"charger {name}")
                if isinstance(charger, MeterSource):
                    spawn(_meter(service, vehicles, charger), f"meter {name}")
            tokens = TokenManager(config.cardata, TokenStore(config.state_dir), http,
                                  clock=WallClock())
            api = CardataApi(config.cardata, tokens, QuotaLedger(config.state_dir), http,
                             clock=WallClock())
            service.refresher = _refresher(service, api)
            stream = CardataStream(config.cardata, tokens, clock=WallClock())
            service.stream_stats = lambda: {
                "connections": stream.stats.connections, "messages": stream.stats.messages,
                "invalid_messages": stream.stats.invalid_messages,
                "failures": stream.stats.failures}
            spawn(_cardata(service, stream), "cardata stream")
            if isinstance(prices, TariffPrices) and prices.live is not None:
                spawn(keep_prices_fresh(service, prices, clock), "price feed")
            await service.resume()
            service.tick(clock.now())
            scheduler = _SlotTicker(clock, service.tick)
            scheduler.start()
            stack.callback(scheduler.shutdown)
            server, port = await _serve_http(service, token, config, options.login_codes)
            tasks.append(server_task := asyncio.ensure_future(server.serve_task))
            for adapter in [*options.adapters, *tell.adapters]:
                spawn(adapter(service), f"adapter {getattr(adapter, '__name__', adapter)}")
            host = config.service.http_host
            started = Started(f"http://{_url_host(host)}:{port}/api",
                              config.state_dir / "api_token", service)
            log.info("service running; API on %s, dashboard on %s/ (token in %s)",
                     started.api_url, started.api_url.removesuffix("/api"), started.token_file)
            if options.on_started is not None:
                options.on_started(started)
            await stop.wait()
            log.info("stopping: leaving every charger in a safe state")
            service.end_changes()
            server.server.should_exit = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(server_task), 2.0)
            await _drain(service, 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(service.safe_state(), 3.0)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for task in tasks:
            task.cancel()
        logging.getLogger("ocpp").removeHandler(station_errors)
        db.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    log.info("stopped")


class _Counting(logging.Handler):
    """Counts the station faults the `ocpp` library logs (a station sending what is not OCPP, or
    a request it cannot handle): the library answers the station itself, we keep the score.
    They arrive as warnings: `StationFaultsInOneLine` turns the library's errors into one
    warning line each."""

    def __init__(self, service: Service, counter: str) -> None:
        super().__init__(logging.WARNING)
        self.service = service
        self.counter = counter

    def emit(self, record: logging.LogRecord) -> None:
        self.service.counters[self.counter] += 1


def _url_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)


async def _guarded(coro: Awaitable[Any], name: str) -> None:
    """An adapter that dies is logged; the others keep running."""
    try:
        await coro
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("%s stopped", name)


@contextlib.asynccontextmanager
async def _bounded_exit(stack: contextlib.AsyncExitStack) -> AsyncIterator[None]:
    """Close the adapters (central system, HTTP client...) but never wait on a peer that does
    not answer its close handshake for longer than the shutdown budget allows."""
    try:
        yield
    finally:
        try:
            await asyncio.wait_for(stack.aclose(), CLOSE_BUDGET_S)
        except TimeoutError:
            log.warning("closing the adapters took longer than %.0f s; leaving anyway",
                        CLOSE_BUDGET_S)


async def _drain(service: Service, budget_s: float) -> None:
    """Let the core finish what is queued (bounded), so committed input is not lost."""
    deadline = asyncio.get_running_loop().time() + budget_s
    while not service.queue.empty() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)


# --------------------------------------------------------------------------- HTTP


class _Server(uvicorn.Server):
    """uvicorn inside our loop: the service owns the signals, not uvicorn."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class _Running:
    server: _Server
    serve_task: asyncio.Task[None]


async def _serve_http(service: Service, token: str, config: Config,
                      codes: LoginCodes | None) -> tuple[_Running, int]:
    app = build_app(service, token, codes)
    host, port = config.service.http_host, config.service.http_port
    listening = _listen(host, port)  # ourselves: uvicorn would sys.exit() on a bind error
    server = _Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                    access_log=False, lifespan="off",
                                    timeout_graceful_shutdown=1))  # open SSE streams
    task = asyncio.ensure_future(server.serve(sockets=[listening]))
    while not server.started:
        if task.done():
            task.result()
            raise UserError(f"[service] the HTTP API on {host}:{port} did not start")
        await asyncio.sleep(0.01)
    return _Running(server, task), int(listening.getsockname()[1])


def _listen(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        listening = socket.socket(family, kind, proto)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(address)
    except OSError as exc:
        raise UserError(
            f"[service] cannot listen on {host}:{port}: {exc.strerror or exc}; set another "
            f"http_port (or http_host), or stop the program that uses it") from None
    listening.listen(128)
    listening.setblocking(False)
    return listening


# --------------------------------------------------------------------------- scheduler


class _SlotTicker:
    """apscheduler runs one job at each slot boundary of the service's clock (which may run
    faster than the wall clock: the wait is converted to wall seconds each time)."""

    def __init__(self, clock: ServiceClock, on_tick: Callable[[datetime], None]) -> None:
        self.clock = clock
        self.on_tick = on_tick
        self.scheduler = AsyncIOScheduler(timezone=UTC)

    def start(self) -> None:
        self.scheduler.start()
        self._schedule()

    def shutdown(self) -> None:
        self.scheduler.shutdown(wait=False)

    def _schedule(self) -> None:
        now = self.clock.now()
        step_s = int(SLOT.total_seconds())
        boundary = datetime.fromtimestamp((int(now.timestamp()) // step_s + 1) * step_s, UTC)
        wall_at = datetime.now(UTC) + timedelta(seconds=self.clock.wall_seconds_until(boundary))
        self.scheduler.add_job(self._fire, DateTrigger(run_date=wall_at),
                               misfire_grace_time=None)

    async def _fire(self) -> None:
        """A coroutine, so apscheduler runs it on the event loop (a plain function would run
        in its thread pool, and the service's queue is not thread-safe)."""
        self._schedule()
        self.on_tick(self.clock.now())


# --------------------------------------------------------------------------- chargers


async def _watch_ocpp(service: Service, vehicles: list[Vehicle], charger: OcppCharger) -> None:
    last: tuple[ChargerState, bool] | None = None
    while True:
        key = (charger.state, charger.connected)
        if key != last:
            for vehicle in vehicles:
                service.submit(vehicle.name, ChargerStatusChanged(key[0], key[1]))
            last = key
        with contextlib.suppress(ChargerError):
            await charger.wait_until(partial(_moved, charger, key), 3600.0, "a state change")


def _moved(charger: OcppCharger, seen: tuple[ChargerState, bool]) -> bool:
    return (charger.state, charger.connected) != seen


async def _poll_charger(service: Service, vehicles: list[Vehicle], charger: Charger,
                        period_s: float) -> None:
    last: tuple[ChargerState, bool] | None = None
    while True:
        try:
            async with asyncio.timeout(period_s * 2):
                status = await charger.status()
            key = (status.state, True)
        except Exception as exc:
            service.counters["charger_errors"] += 1
            log.warning("charger '%s' is unreachable: %s", vehicles[0].charger_config.name
                        if vehicles else "?", exc or type(exc).__name__)
            key = (ChargerState.UNKNOWN, False)
        if key != last:
            for vehicle in vehicles:
                service.submit(vehicle.name, ChargerStatusChanged(*key))
            last = key
        await asyncio.sleep(period_s)


async def _meter(service: Service, vehicles: list[Vehicle], charger: MeterSource) -> None:
    async for reading in charger.readings():
        for vehicle in vehicles:
            service.meter_reading(vehicle, reading.measured_at, reading.energy_kwh,
                                  reading.power_kw)


# --------------------------------------------------------------------------- CarData


async def _cardata(service: Service, stream: CardataStream) -> None:
    async def handle(message: StreamMessage) -> None:
        events = stream.parse(message)  # an invalid message is counted and logged there
        # a SoC that comes with the plug-in goes first, so the first plan already knows it
        for event in sorted(events, key=lambda e: e.field != "soc_pct"):
            service.vehicle_event(event)

    while True:
        try:
            await stream.run(handle)
        except LoginRequired as exc:
            for name in service.fleet:
                service.submit(name, Attention(
                    CARDATA_LOGIN, "CarData login needed",
                    f"{exc}. Run `ev-optimizer login --config ...`; charging from the "
                    f"charger's plug state keeps working meanwhile"))
            log.warning("CarData stream: %s; retrying in %.0f s", exc, LOGIN_RETRY_S)
            await asyncio.sleep(LOGIN_RETRY_S)


def _refresher(service: Service, api: CardataApi
               ) -> Callable[[Vehicle, str], Any]:
    async def refresh(vehicle: Vehicle, reason: str) -> None:
        vin = vehicle.config.vin
        try:
            container = await _container(service, api)
            data = await api.telematic_data(vin, container)
            events = parse_telematic_data(vin, data, service.clock.now())
        except QuotaExhausted as exc:
            quota = api.ledger.status(api.clock.now())
            service.submit(vehicle.name, SocRefreshFailed(str(exc), True, quota.used,
                                                          quota.limit, quota.resets_at))
            return
        except LoginRequired as exc:
            service.submit(vehicle.name, Attention(CARDATA_LOGIN, "CarData login needed",
                                                   str(exc)))
            return
        except (ApiError, httpx.HTTPError, MessageError) as exc:
            if isinstance(exc, ApiError) and exc.code == "CU-105":
                service.db.save(CONTAINER_KEY, None)
            service.counters["soc_refresh_errors"] += 1
            log.warning("vehicle '%s': SoC refresh failed: %s", vehicle.name,
                        exc or type(exc).__name__)
            service.submit(vehicle.name, SocRefreshFailed(str(exc), False))
            return
        for event in events:
            service.vehicle_event(event)

    return refresh


async def _container(service: Service, api: CardataApi) -> str:
    """Our CarData container id: looked up (or created) once, then kept in the database."""
    saved = service.db.load(CONTAINER_KEY)
    if isinstance(saved, str) and saved:
        return saved
    found = next((c for c in await api.containers() if c.get("name") == CONTAINER_NAME), None)
    if found is None:
        found = await api.create_container()
    container = str(found.get("containerId") or found.get("id") or "")
    if not container:
        raise MessageError("CarData created a container without an id")
    service.db.save(CONTAINER_KEY, container)
    return container
