"""Kind-specific charger settings: the `[chargers.ocpp]`, `[chargers.modbus]` and
`[chargers.homeassistant]` tables of a `[[chargers]]` entry."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OcppSettings(_Settings):
    station_id: str = Field(min_length=1)
    password_file: Path | None = None
    """File holding the station's HTTP Basic password (security profile 1/2)."""
    host: str = "127.0.0.1"
    port: int = Field(default=8887, ge=1, le=65535)
    connector_id: int = Field(default=1, ge=1)


class ModbusSettings(_Settings):
    host: str
    port: int = Field(default=502, ge=1, le=65535)
    unit_id: int = Field(default=1, ge=0, le=255)
    model: str
    """Name of a register-map file in optimizer/chargers/maps/ (e.g. 'alfen')."""


class HomeAssistantSettings(_Settings):
    url: str = "http://127.0.0.1:8123"
    token_file: Path
    switch_entity: str
    current_entity: str | None = None
