"""The `[service]` config section: the HTTP API's address and the session machine's knobs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ServiceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    http_host: str = "127.0.0.1"
    """Loopback by default: anything that can start a charger stays off the network unless
    the person decides otherwise (the API needs its token either way)."""
    http_port: int = Field(default=8765, ge=0, le=65535)
    """0 picks a free port (tests, the demo)."""
    soc_stale_after_minutes: float = Field(default=120.0, gt=0)
    """At plug-in, a SoC report older than this is refreshed with one CarData REST call."""
    max_band_pct: float = Field(default=10.0, gt=0, le=100)
    """Before a planning decision, a SoC band wider than this is refreshed over REST."""
    refresh_interval_minutes: float = Field(default=60.0, ge=0)
    """At most one REST SoC refresh per vehicle this often (50 calls a day per account)."""
    keep_charging_after_departure: bool = True
    """Target missed at departure: charge on at once until the target or unplug."""
    material_power_kw: float = Field(default=1.0, ge=0)
    """A new plan is uploaded only if a slot's power moves by more than this."""
    charger_offline_minutes: float = Field(default=10.0, gt=0)
    """Notify when a charger has been unreachable this long."""
    safe_current_a: float = Field(default=0.0, ge=0, le=80)
    """What a live-driven charger is left at on shutdown (0 = off)."""
    charger_poll_s: float = Field(default=10.0, gt=0)
    """Status polling of chargers that do not push their state (Modbus, Home Assistant)."""
    event_log_rows: int = Field(default=10_000, ge=100)
