"""Build the configured charger, connected and ready, for the CLI and the service.

Paths inside a `[chargers.*]` table (password, token, TLS files) are relative to the config
file, like the tariff path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from optimizer.chargers.central_system import CentralSystem, server_ssl_context
from optimizer.chargers.errors import ChargerError
from optimizer.chargers.homeassistant import HomeAssistantCharger
from optimizer.chargers.limits import CurrentRange
from optimizer.chargers.modbus import ModbusCharger
from optimizer.chargers.modbus_map import load_map
from optimizer.chargers.ocpp_charger import OcppCharger
from optimizer.chargers.secret_files import read_secret
from optimizer.config import ChargerConfig
from optimizer.ports import Charger, Clock

FIRST_MESSAGE_WAIT_S = 10.0


class SystemClock:
    """The wall clock, for the edges only (CLI, service); the core receives `now`."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def current_range(config: ChargerConfig) -> CurrentRange:
    return CurrentRange(phases=config.phases, voltage_v=config.voltage_v,
                        min_current_a=config.min_current_a, max_current_a=config.max_current_a)


def _resolve(base: Path, path: Path) -> Path:
    return path if path.is_absolute() else base / path.expanduser()


@asynccontextmanager
async def open_charger(
    config: ChargerConfig, base: Path, clock: Clock, *, wait_s: float = 90.0
) -> AsyncIterator[Charger]:
    """The charger, connected; for OCPP this runs the central system until the block ends and
    waits up to `wait_s` for the station to connect (stations reconnect on their own schedule).
    """
    limits = current_range(config)
    if config.kind == "modbus" and config.modbus is not None:
        settings = config.modbus
        modbus = ModbusCharger(config.name, load_map(settings.model), limits, clock,
                               host=settings.host, port=settings.port, unit_id=settings.unit_id,
                               timeout_s=settings.timeout_s, retries=settings.retries)
        async with modbus:
            yield modbus
    elif config.kind == "homeassistant" and config.homeassistant is not None:
        ha = config.homeassistant
        token = read_secret(_resolve(base, ha.token_file), "Home Assistant token")
        async with HomeAssistantCharger(config.name, ha, token, limits, clock) as charger:
            yield charger
    elif config.kind == "ocpp" and config.ocpp is not None:
        ocpp = config.ocpp
        password = read_secret(_resolve(base, ocpp.password_file), "OCPP password")
        tls = None
        if ocpp.tls_cert_file is not None and ocpp.tls_key_file is not None:
            tls = server_ssl_context(_resolve(base, ocpp.tls_cert_file),
                                     _resolve(base, ocpp.tls_key_file))
        system = CentralSystem(clock, host=ocpp.host, port=ocpp.port, ssl_context=tls)
        station = system.add(OcppCharger(config.name, ocpp.station_id, password, limits, clock,
                                         connector_id=ocpp.connector_id, id_tag=ocpp.id_tag))
        async with system:
            await station.wait_connected(wait_s)
            # A 1.6 box may refuse requests until its BootNotification is answered: give it a
            # moment to say something first, then go ahead anyway.
            with suppress(ChargerError):
                await station.wait_until(lambda: station.ready, FIRST_MESSAGE_WAIT_S)
            yield station
    else:
        raise ChargerError(
            f"charger '{config.name}' is {config.kind}: there is nothing to control"
        )
