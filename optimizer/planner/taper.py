"""The charge-power limit as a function of SoC (the taper), as a set of lines.

A concave, piecewise-linear curve is the minimum of the lines through its segments, which is
what the LP needs: `power <= a + b * soc` for each line keeps the model linear and exact. The
limit of a slot is evaluated at the SoC at the *end* of the slot, which never promises more power
than the car will take.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from optimizer.errors import InputError
from optimizer.model import TaperPoint


@dataclass(frozen=True, slots=True)
class PowerLimit:
    """max power (kW) = min(max_power_kw, min over lines of a + b * soc_pct)."""

    max_power_kw: float
    lines: tuple[tuple[float, float], ...] = ()

    def at(self, soc_pct: float) -> float:
        power = self.max_power_kw
        for a, b in self.lines:
            power = min(power, a + b * soc_pct)
        return max(power, 0.0)

    def max_energy(self, hours: float, soc_pct: float, pct_per_kwh: float) -> float:
        """Most grid energy in a slot of `hours` starting at `soc_pct`, limit taken at its end.

        For a line, e = hours * (a + b * (soc + pct_per_kwh * e)) solves to
        e = hours * (a + b * soc) / (1 - hours * b * pct_per_kwh); b <= 0 keeps it positive.
        """
        energy = self.max_power_kw * hours
        for a, b in self.lines:
            energy = min(energy, hours * (a + b * soc_pct) / (1.0 - hours * b * pct_per_kwh))
        return max(energy, 0.0)


def power_limit(max_power_kw: float, taper: Sequence[TaperPoint]) -> PowerLimit:
    """Build the limit; reject a taper that rises with SoC or is not concave."""
    if len(taper) < 2:
        cap = min([max_power_kw, *(p.power_kw for p in taper)])
        return PowerLimit(cap)
    points = sorted(taper, key=lambda p: p.soc_pct)
    lines: list[tuple[float, float]] = []
    last_slope = 0.0
    for left, right in pairwise(points):
        if right.soc_pct <= left.soc_pct:
            raise InputError(f"taper: two points at SoC {left.soc_pct:g}%; give each SoC once")
        slope = (right.power_kw - left.power_kw) / (right.soc_pct - left.soc_pct)
        if slope > 1e-9:
            raise InputError(
                f"taper: power rises from {left.power_kw:g} kW at {left.soc_pct:g}% to "
                f"{right.power_kw:g} kW at {right.soc_pct:g}%; a taper may only fall with SoC"
            )
        if slope > last_slope + 1e-9:
            raise InputError(
                f"taper: the curve flattens again at {left.soc_pct:g}%; the planner needs a "
                f"concave taper (each segment at least as steep as the one before)"
            )
        last_slope = slope
        lines.append((left.power_kw - slope * left.soc_pct, slope))
    return PowerLimit(min(max_power_kw, points[0].power_kw), tuple(lines))
