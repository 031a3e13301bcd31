"""The `[cardata]` config section.

Every endpoint is configurable so that tests, the demo and external checks can point the
connector at the local simulator instead of BMW's cloud.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from optimizer.hosts import is_loopback


class CardataSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str | None = None
    """The CarData client id created in the MyBMW portal; needed for `login`."""
    auth_base_url: str = "https://customer.bmwgroup.com/gcdm/oauth"
    api_base_url: str = "https://api-cardata.bmwgroup.com"
    stream_host: str = Field(default="customer.streaming-cardata.bmwgroup.com",
                             pattern=r"^[A-Za-z0-9.:\[\]-]+$")
    """A host name only: the stream is always MQTT over TLS."""
    stream_port: int = Field(default=9000, ge=1, le=65535, strict=True)
    ca_file: Path | None = None
    """An extra CA certificate to trust (the simulator's per-run CA in tests)."""

    @field_validator("auth_base_url", "api_base_url")
    @classmethod
    def _https(cls, url: str) -> str:
        """Tokens travel on these: https, except plain http on loopback (the simulator)."""
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise ValueError(f"'{url}' is not a URL; write it like https://host/path") from None
        if not host:
            raise ValueError(f"'{url}' has no host; write it like https://host/path")
        if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host)):
            return url
        raise ValueError(f"'{url}' must use https (tokens are sent to it); plain http is only "
                         f"allowed on loopback, for the simulator")
