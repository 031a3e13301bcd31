"""Build the configured charger, connected and ready, for the CLI and the service.

Paths inside a `[chargers.*]` table (password, token, TLS files) are relative to the config
file, like the tariff path.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from functools import partial
from pathlib import Path

from optimizer.chargers.central_system import CentralSystem, server_ssl_context
from optimizer.chargers.errors import ChargerError
from optimizer.chargers.homeassistant import HomeAssistantCharger
from optimizer.chargers.limits import CurrentRange
from optimizer.chargers.modbus import ModbusCharger
from optimizer.chargers.modbus_map import load_map
from optimizer.chargers.ocpp_charger import OcppCharger
from optimizer.chargers.secret_files import read_secret
from optimizer.chargers.settings import OcppSettings
from optimizer.config import ChargerConfig
from optimizer.ports import Charger, Clock

FIRST_MESSAGE_WAIT_S = 10.0


def current_range(config: ChargerConfig) -> CurrentRange:
    return CurrentRange(phases=config.phases, voltage_v=config.voltage_v,
                        min_current_a=config.min_current_a, max_current_a=config.max_current_a)


def _resolve(base: Path, path: Path) -> Path:
    return path if path.is_absolute() else base / path.expanduser()


def _key(config: ChargerConfig, field: str) -> str:
    return f"{field} in [chargers.{config.kind}] of charger '{config.name}'"


def _is_ready(station: OcppCharger) -> bool:
    return station.ready


async def _open_ocpp(stations: list[OcppCharger], wait_s: float) -> None:
    for station in stations:
        await station.wait_connected(wait_s)
        # A 1.6 box may refuse requests until its BootNotification is answered: give it a
        # moment to say something first, then go ahead anyway.
        with suppress(ChargerError):
            await station.wait_until(partial(_is_ready, station), FIRST_MESSAGE_WAIT_S)


@asynccontextmanager
async def open_chargers(
    configs: Sequence[ChargerConfig],
    base: Path,
    clock: Clock,
    *,
    wait_s: float | None = None,
    on_listening: Callable[[OcppCharger, str], None] | None = None,
    lazy: bool = False,
) -> AsyncIterator[dict[str, Charger]]:
    """Every configured (non-simulated) charger by name, connected, until the block ends.

    With `lazy`, Modbus boxes connect on first use (and reconnect by themselves) instead of
    at once: a service must start, and keep running, while a box is down.

    OCPP chargers on the same host and port share one central system; `on_listening` hears
    each station's URL once its central system accepts connections. With `wait_s`, each OCPP
    station must connect within that many seconds (the CLI); without, stations connect
    whenever they like (the service).
    """
    async with AsyncExitStack() as stack:
        chargers: dict[str, Charger] = {}
        systems: dict[tuple[str, int], CentralSystem] = {}
        stations: list[OcppCharger] = []
        for config in configs:
            limits = current_range(config)
            if config.modbus is not None and config.kind == "modbus":
                mb = config.modbus
                box = ModbusCharger(
                    config.name, load_map(mb.model), limits, clock, host=mb.host,
                    port=mb.port, unit_id=mb.unit_id, timeout_s=mb.timeout_s,
                    retries=mb.retries)
                if lazy:
                    stack.push_async_callback(box.close)
                    chargers[config.name] = box
                else:
                    chargers[config.name] = await stack.enter_async_context(box)
            elif config.homeassistant is not None and config.kind == "homeassistant":
                ha = config.homeassistant
                token = read_secret(_resolve(base, ha.token_file), "Home Assistant token",
                                    _key(config, "token_file"))
                chargers[config.name] = await stack.enter_async_context(
                    HomeAssistantCharger(config.name, ha, token, limits, clock))
            elif config.ocpp is not None and config.kind == "ocpp":
                ocpp = config.ocpp
                system = systems.get((ocpp.host, ocpp.port))
                if system is None:
                    system = CentralSystem(clock, host=ocpp.host, port=ocpp.port,
                                           ssl_context=_tls(ocpp, base),
                                           allow_insecure=ocpp.allow_insecure)
                    systems[(ocpp.host, ocpp.port)] = system
                password = read_secret(_resolve(base, ocpp.password_file), "OCPP password",
                                       _key(config, "password_file"))
                station = system.add(OcppCharger(
                    config.name, ocpp.station_id, password, limits, clock,
                    connector_id=ocpp.connector_id, id_tag=ocpp.id_tag))
                stations.append(station)
                chargers[config.name] = station
        urls: dict[str, str] = {}
        for system in systems.values():
            await stack.enter_async_context(system)
            urls.update((station_id, f"{system.url()}/{station_id}")
                        for station_id in system.station_ids)
        if on_listening is not None:
            for station in stations:
                on_listening(station, urls[station.station_id])
        if wait_s is not None:
            await _open_ocpp(stations, wait_s)
        yield chargers


def _tls(ocpp: OcppSettings, base: Path) -> ssl.SSLContext | None:
    if ocpp.tls_cert_file is None or ocpp.tls_key_file is None:
        return None
    return server_ssl_context(_resolve(base, ocpp.tls_cert_file),
                              _resolve(base, ocpp.tls_key_file))


@asynccontextmanager
async def open_charger(
    config: ChargerConfig,
    base: Path,
    clock: Clock,
    *,
    wait_s: float = 90.0,
    on_listening: Callable[[OcppCharger, str], None] | None = None,
) -> AsyncIterator[Charger]:
    """One charger, connected; for OCPP the central system runs until the block ends and the
    station gets `wait_s` seconds to connect (stations reconnect on their own schedule)."""
    if config.kind == "simulated":
        raise ChargerError(f"charger '{config.name}' is simulated: there is nothing to control")
    async with open_chargers([config], base, clock, wait_s=wait_s,
                             on_listening=on_listening) as chargers:
        yield chargers[config.name]
