"""The linear baseline the estimator must beat: the community "Extrapolated SOC" helper.

Reference/cardata.md §4.1 (JjyKsi v0.2.13): every SoC report re-anchors unconditionally (stale
re-sends included), the rate is `power / maxEnergy` with 100 % efficiency and no taper, the
estimate is advanced to each power sample's timestamp before the new power takes over, and it
stops on a non-active status, at the target and at 100 %. One kindness: a 0 W report stops it
here (the original kept the last non-zero rate, §4.1 "phantom charging"), so the comparison is
not won on that bug alone.
"""

from __future__ import annotations

from datetime import datetime

from optimizer.events import SocEstimate, VehicleEvent


class LinearBaseline:
    """Same interface as `SocEstimator` (ingest/add_meter/estimate); the band is the point."""

    def __init__(self, vin: str) -> None:
        self.vin = vin
        self._soc: float | None = None
        self._t = 0.0
        self._capacity: float | None = None
        self._power_kw = 0.0
        self._active = False
        self._target = 100.0

    def _advance(self, t: float) -> None:
        if self._soc is not None:
            self._soc = self._at(t)
            self._t = max(self._t, t)

    def _at(self, t: float) -> float:
        assert self._soc is not None
        if not self._active or not self._capacity or t <= self._t:
            return self._soc
        rate_pct_per_s = self._power_kw / self._capacity * 100.0 / 3600.0
        soc = self._soc + rate_pct_per_s * (t - self._t)
        return min(soc, max(self._target, self._soc), 100.0)

    def ingest(self, event: VehicleEvent) -> None:
        t = event.measured_at.timestamp()
        value = event.value
        if event.field == "soc_pct" and isinstance(value, int | float):
            self._soc, self._t = float(value), t
        elif event.field == "capacity_kwh" and isinstance(value, int | float) and value > 0:
            self._advance(t)
            self._capacity = float(value)
        elif event.field == "charging_power_kw" and isinstance(value, int | float):
            self._advance(t)
            self._power_kw = max(0.0, float(value))
        elif event.field == "charging_status":
            self._advance(t)
            self._active = value == "charging"
        elif event.field == "target_soc_pct" and isinstance(value, int | float):
            self._target = float(value)

    def add_meter(self, measured_at: datetime, energy_kwh: float) -> None:
        """The helper has no meter input."""

    def estimate(self, now: datetime) -> SocEstimate | None:
        if self._soc is None:
            return None
        soc = self._at(now.timestamp())
        return SocEstimate(self.vin, now, soc, soc, soc)
