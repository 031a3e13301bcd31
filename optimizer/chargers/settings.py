"""Kind-specific charger settings: the `[chargers.ocpp]`, `[chargers.modbus]` and
`[chargers.homeassistant]` tables of a `[[chargers]]` entry."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OcppSettings(_Settings):
    station_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    password_file: Path
    """File (mode 0600) holding the station's HTTP Basic password (security profile 1/2)."""
    host: str = "127.0.0.1"
    port: int = Field(default=8887, ge=1, le=65535)
    connector_id: int = Field(default=1, ge=1)
    tls_cert_file: Path | None = None
    """With `tls_key_file`: serve wss:// (security profile 2)."""
    tls_key_file: Path | None = None
    id_tag: str = Field(default="ev-optimizer", min_length=1, max_length=20)
    """idTag/idToken used for remote starts."""


class ModbusSettings(_Settings):
    host: str
    port: int = Field(default=502, ge=1, le=65535)
    unit_id: int | None = Field(default=None, ge=0, le=255)
    """Defaults to the unit id in the register map."""
    model: str
    """Name of a register-map file in optimizer/chargers/maps/ (e.g. 'alfen_eve')."""
    timeout_s: float = Field(default=3.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)


class HomeAssistantSettings(_Settings):
    url: str = "http://127.0.0.1:8123"
    token_file: Path
    """A long-lived access token, alone in a file with mode 0600."""
    switch_entity: str = Field(pattern=r"^[a-z_]+\.[a-z0-9_]+$")
    """What switches charging on and off (a wallbox switch, a smart plug, an input_boolean)."""
    turn_on_service: str | None = Field(default=None, pattern=r"^[a-z_]+\.[a-z0-9_]+$")
    """Defaults to `<domain of switch_entity>.turn_on`."""
    turn_off_service: str | None = Field(default=None, pattern=r"^[a-z_]+\.[a-z0-9_]+$")
    current_entity: str | None = Field(default=None, pattern=r"^[a-z_]+\.[a-z0-9_]+$")
    """A number/input_number holding the current limit in A, if the wallbox has one."""
    current_service: str | None = Field(default=None, pattern=r"^[a-z_]+\.[a-z0-9_]+$")
    """Defaults to `<domain of current_entity>.set_value`."""
    power_entity: str | None = None
    """Optional sensor with the charging power (W or kW)."""
    energy_entity: str | None = None
    """Optional sensor with the cumulative energy (Wh or kWh)."""
    timeout_s: float = Field(default=10.0, gt=0)
