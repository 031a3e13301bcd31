"""Kind-specific charger settings: the `[chargers.ocpp]`, `[chargers.modbus]` and
`[chargers.homeassistant]` tables of a `[[chargers]]` entry.

Numbers and flags are strict (`port = "8887"` or `allow_insecure = "yes"` is an error, not a
guess) and finite. Files a charger cannot work without are checked when the config is
validated with a `config_dir` in the pydantic validation context (paths are relative to the
config file); without it, only absolute paths can be checked here and the charger factory
checks the rest when it opens the charger.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from optimizer.chargers.modbus_map import available_maps
from optimizer.hosts import is_loopback


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def config_file(path: Path, info: ValidationInfo) -> Path | None:
    """`path` as the charger will open it, or None when that cannot be known yet (a relative
    path validated without the config file's folder in the context)."""
    context: Any = info.context
    base = context.get("config_dir") if isinstance(context, dict) else None
    path = path.expanduser()
    if path.is_absolute():
        return path
    return Path(base) / path if base is not None else None


def require_file(path: Path, info: ValidationInfo, what: str) -> Path:
    resolved = config_file(path, info)
    if resolved is not None and not resolved.is_file():
        raise ValueError(f"{what} {resolved} does not exist; create it (mode 0600) or fix the "
                         f"path (relative paths start at the config file's folder)")
    return path


class OcppSettings(_Settings):
    station_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    password_file: Path
    """File (mode 0600) holding the station's HTTP Basic password (security profile 1/2)."""
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8887, ge=1, le=65535, strict=True)
    connector_id: int = Field(default=1, ge=1, le=255, strict=True)
    tls_cert_file: Path | None = None
    """With `tls_key_file`: serve wss:// (security profile 2)."""
    tls_key_file: Path | None = None
    allow_insecure: bool = Field(default=False, strict=True)
    """Serve plain ws:// on a host other than loopback: the station's password then crosses
    the network in clear, so it takes an explicit yes."""
    id_tag: str = Field(default="ev-optimizer", min_length=1, max_length=20)
    """idTag/idToken used for remote starts."""

    @field_validator("password_file", "tls_cert_file", "tls_key_file")
    @classmethod
    def _file_exists(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        if path is None:
            return None
        return require_file(path, info, str(info.field_name).replace("_", " "))

    @model_validator(mode="after")
    def _tls_pair(self) -> OcppSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            given, missing = (("tls_cert_file", "tls_key_file") if self.tls_key_file is None
                              else ("tls_key_file", "tls_cert_file"))
            raise ValueError(f"{given} is set but {missing} is not; TLS needs both (or "
                             f"neither, for plain ws:// on loopback)")
        if self.tls_cert_file is None and not is_loopback(self.host) and not self.allow_insecure:
            raise ValueError(f"host '{self.host}' is reachable from the network but there is no "
                             f"TLS: set tls_cert_file and tls_key_file, or allow_insecure = true "
                             f"to send station passwords in clear")
        return self


class ModbusSettings(_Settings):
    host: str = Field(min_length=1)
    port: int = Field(default=502, ge=1, le=65535, strict=True)
    unit_id: int | None = Field(default=None, ge=0, le=255, strict=True)
    """Defaults to the unit id in the register map."""
    model: str
    """Name of a register-map file in optimizer/chargers/maps/ (e.g. 'alfen_eve')."""
    timeout_s: float = Field(default=3.0, gt=0, le=60, strict=True)
    retries: int = Field(default=2, ge=0, le=10, strict=True)

    @field_validator("model")
    @classmethod
    def _shipped_map(cls, model: str) -> str:
        shipped = available_maps()
        if model not in shipped:
            kind = ("a map name, not a path" if "/" in model or "\\" in model or ".." in model
                    else "not a shipped register map")
            raise ValueError(f"'{model}' is {kind}; use one of {', '.join(shipped)}")
        return model


class HomeAssistantSettings(_Settings):
    url: str = Field(default="http://127.0.0.1:8123", pattern=r"^https?://[^/\s]+")
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
    timeout_s: float = Field(default=10.0, gt=0, le=120, strict=True)

    @field_validator("token_file")
    @classmethod
    def _token_exists(cls, path: Path, info: ValidationInfo) -> Path:
        return require_file(path, info, "Home Assistant token file")
