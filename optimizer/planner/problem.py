"""The planning problem in solver form: slots, energy bounds and the options that need binaries."""

from __future__ import annotations

from dataclasses import dataclass

from optimizer.planner.horizon import Horizon
from optimizer.planner.taper import PowerLimit


@dataclass(frozen=True, slots=True)
class Problem:
    """Energies are grid-side kWh; the battery gains `pct_per_kwh` SoC points per kWh.

    Solvers return the energy per slot. They minimise
    `sum(price * energy) - extra_price_cap * extra + start_penalty * starts`
    subject to `sum(energy) = need_kwh + extra (+ overshoot forced by min_power)`,
    `forced_kwh[i] <= energy[i] <= limit(SoC) * hours[i]`.
    """

    horizon: Horizon
    forced_kwh: list[float]
    need_kwh: float
    extra_kwh: float
    extra_price_cap: float
    full_kwh: float
    """Grid energy to 100 %: no plan goes beyond it."""
    limit: PowerLimit
    soc_pct: float
    pct_per_kwh: float
    min_power_kw: float = 0.0
    min_run_slots: int = 1
    start_penalty: float = 0.0
    single_block: bool = False
    charging_now: bool = False

    @property
    def is_linear(self) -> bool:
        """True when the exact greedy applies: no taper, no minimum power, no run constraints."""
        return (
            not self.limit.lines
            and self.min_power_kw <= 0.0
            and self.min_run_slots <= 1
            and self.start_penalty <= 0.0
            and not self.single_block
        )

    def caps(self) -> list[float]:
        """Per-slot energy caps ignoring the taper (the taper is a SoC-dependent extra limit)."""
        return [self.limit.max_power_kw * h for h in self.horizon.hours]
