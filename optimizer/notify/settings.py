"""The `[notify]` section: where notifications go (apprise URLs) and which events are sent."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from optimizer.chargers.secret_files import read_secret
from optimizer.events import NotificationKind


class NotifySettings(BaseModel):
    """Apprise URLs hold secrets (bot tokens, passwords), so they may live in `urls_file`
    (mode 0600, one URL a line, `#` comments) instead of the config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[str] = Field(default_factory=list)
    urls_file: Path | None = None
    events: list[NotificationKind] = Field(default_factory=lambda: list(NotificationKind))
    """Which kinds to send (`plan`, `charging_started`, ...); default all of them."""
    max_per_hour: int = Field(default=20, ge=1, le=3600)
    """Rate limit over all URLs: more than this in a rolling hour wait for the window."""
    retry_s: float = Field(default=30.0, gt=0.0)
    """First retry after a failed delivery; doubled per attempt, at most an hour."""
    max_attempts: int = Field(default=20, ge=1)
    keep_days: int = Field(default=30, ge=1)
    """Delivered rows are kept this long; a repeated `dedupe_key` within it sends nothing."""

    @model_validator(mode="after")
    def _check(self) -> NotifySettings:
        if self.urls and self.urls_file is not None:
            raise ValueError("give either urls or urls_file, not both")
        return self

    def all_urls(self) -> list[str]:
        """The URLs from the config or from `urls_file` (refused unless mode 0600)."""
        if self.urls_file is None:
            return list(self.urls)
        text = read_secret(self.urls_file, "notification URLs")
        return [line.strip() for line in text.splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
