"""The `[site]` table: the power limit that every charger of this config shares.

With `max_power_kw` set, the vehicles plugged in at the site's chargers are planned together
(`optimizer.planner.site.plan_site`) so that their powers never add up to more than the house
connection or transformer allows; without it each vehicle is planned on its own.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SiteSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_power_kw: float | None = Field(default=None, gt=0.0, le=100_000.0)
    """The connection's limit in kW, e.g. 11.04 for 16 A on three phases at 230 V."""
