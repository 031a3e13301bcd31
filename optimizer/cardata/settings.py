"""The `[cardata]` config section.

Every endpoint is configurable so that tests, the demo and external checks can point the
connector at the local simulator instead of BMW's cloud.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class CardataSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str | None = None
    """The CarData client id created in the MyBMW portal; needed for `login`."""
    auth_base_url: str = "https://customer.bmwgroup.com/gcdm/oauth"
    api_base_url: str = "https://api-cardata.bmwgroup.com"
    stream_host: str = "customer.streaming-cardata.bmwgroup.com"
    stream_port: int = Field(default=9000, ge=1, le=65535)
    ca_file: Path | None = None
    """An extra CA certificate to trust (the simulator's per-run CA in tests)."""
