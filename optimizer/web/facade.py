"""What the HTTP API, the dashboard and the Home Assistant entities see of the service.

All three read the same snapshot and send commands that become the same events, so they can
never disagree. The service implements this Protocol; the web and MQTT adapters only use it.
The shapes are the JSON contract of `GET /api/vehicles` (see the charging service issue).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Protocol

VehicleView = dict[str, Any]
"""One vehicle as `GET /api/vehicles` shows it: `name, vin, plugged, charging, soc_pct,
soc_low_pct, soc_high_pct, target_soc_pct, departure, plan, session`. `plan` is exactly the
`plan --json` object (or None); `session` is `{id, started_at, energy_kwh, cost}` (or None).
Adapters may read extra keys the service adds (e.g. `smart`, `boost`, `price_now`)."""

SessionView = dict[str, Any]
"""One charging session of `GET /api/sessions`: `id, vehicle, started_at, ended_at,
energy_kwh, cost, cost_on_arrival, saving`."""


class ServiceFacade(Protocol):
    def vehicles(self) -> list[VehicleView]: ...

    def sessions(self) -> list[SessionView]: ...

    def health(self) -> dict[str, Any]: ...

    async def set_target(
        self, name: str, soc_pct: float | None, departure: datetime | None
    ) -> None:
        """Raises `KeyError` for an unknown vehicle, `ValueError` for an out-of-range value."""
        ...

    async def set_boost(self, name: str, on: bool) -> None: ...

    async def set_smart(self, name: str, on: bool) -> None: ...

    def changes(self) -> AsyncIterator[list[VehicleView]]:
        """Yields the whole vehicle snapshot each time it changes (SSE, MQTT state)."""
        ...
