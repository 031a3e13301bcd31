"""The `[mqtt]` section: the broker Home Assistant listens to, and the topic prefixes."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from optimizer.chargers.secret_files import read_secret


class MqttSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password_file: Path | None = None
    """The broker password alone in a file with mode 0600."""
    tls: bool = False
    ca_file: Path | None = None
    """With `tls`: trust this CA instead of the system's (a self-signed home broker)."""
    discovery_prefix: str = Field(default="homeassistant", pattern=r"^[A-Za-z0-9_/-]+$")
    topic_prefix: str = Field(default="ev-optimizer", pattern=r"^[A-Za-z0-9_/-]+$")

    @model_validator(mode="after")
    def _check(self) -> MqttSettings:
        if self.password_file is not None and self.username is None:
            raise ValueError("password_file is set but username is not; add username")
        if self.ca_file is not None and not self.tls:
            raise ValueError("ca_file is set but tls is false; set tls = true")
        return self

    def password(self) -> str | None:
        if self.password_file is None:
            return None
        return read_secret(self.password_file, "MQTT password")
