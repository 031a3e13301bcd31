"""What the estimator learns per vehicle: charging efficiency and the taper (power vs SoC).

Both start from priors and move towards what the car shows, robustly: one implausible pair of
SoC reports (a `maxEnergy` glitch, a SoC sentinel) must not drag a learned efficiency off. The
state is plain data with `to_json`/`from_json`, so the service can keep it in the `Store`.

Efficiency here is the *effective* ratio the estimator needs: SoC gained (as a share of the
reported `maxEnergy`) per kWh delivered beyond the auxiliary load, as measured by the energy
source the estimator used.
It therefore also absorbs a `maxEnergy` that sits below the true capacity and a car whose
power reports read a little high, which a textbook grid → battery efficiency would not.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

PRIOR_EFFICIENCY: dict[str, float] = {"ac": 0.90, "dc": 0.93}
"""Grid → battery, on the energy left after the auxiliary load: AC onboard chargers lose about
8-12 % (the HA fork uses 0.90 on AC, evcc 0.85 for everything); DC skips the onboard
charger and loses less (the fork's 0.93)."""

AUX_KW = 0.3
"""Power the car itself draws while charging (electronics, battery conditioning): the HA
fork's fixed 0.3 kW (reference/cardata.md §4.3). It makes a 3.7 kW charge lose clearly more
than a 22 kW one, which a single efficiency cannot."""

PRIOR_REL_SIGMA = 0.045
"""How far (relative, 1 sigma) an unknown car's effective efficiency may sit from the prior:
per-car efficiencies of 0.85-0.95 and a `maxEnergy` a few % off the truth."""

PRIOR_WEIGHT_PCT = 10.0
"""The prior counts like 10 SoC points of evidence, so one long session mostly replaces it."""

MIN_REL_SIGMA = 0.012
"""Even a well-learned car varies this much from session to session (temperature, aux load)."""

PLAUSIBLE_EFFICIENCY = (0.55, 1.10)
"""Effective efficiencies outside this range are glitches, not physics (see module doc)."""

MAX_SAMPLES = 16
"""Only recent sessions count: efficiency drifts with seasons and battery ageing."""

OUTLIER_REL = 0.08
"""A sample this far (relative) from the learned value, once there are 3 samples, is rejected."""

DC_MIN_POWER_KW = 23.0
"""Above the largest AC power (22 kW, three phases at 32 A) a charge can only be DC."""

TAPER_BIN_PCT = 2.0
TAPER_RATE = 0.3
"""Each new car-limited sample moves its bin 30 % of the way: the limit varies with battery
temperature, one cold session must not define it."""

CAR_LIMITED_SHARE = 0.9
"""A sample below 90 % of the charge's peak power shows the car's own limit (its taper) rather
than the charger's."""

AC_TAPER_FROM_PCT = 80.0
"""Onboard AC chargers only taper near full; a drop at lower SoC is the wallbox or the grid
(the real iX1 22 kW session that fell to 11 kW at 50 %), which must not be learned as taper."""

PRIOR_AC_SHAPE = ((0.0, 1.0), (90.0, 1.0), (100.0, 0.35))
"""AC: relative to the power the car took; flat until close to full."""

PRIOR_DC_C_RATE = ((0.0, 1.6), (50.0, 1.6), (80.0, 0.8), (100.0, 0.15))
"""DC: kW per kWh of capacity (C-rate). The reference curves (iX1 IONITY sessions ~2 C to
50 % and ~1 C at 75 %, i3/iX3 ~1-1.3 C) scale with battery size; the prior is scaled up when
the car takes more than it says."""


def charge_kind(power_kw: float) -> str:
    return "dc" if power_kw > DC_MIN_POWER_KW else "ac"


def interpolate(points: tuple[tuple[float, float], ...], x: float) -> float:
    """Piecewise-linear y(x) through sorted `points`, flat outside them."""
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


@dataclass(slots=True)
class EfficiencyStats:
    """Recent efficiency samples of one kind of charge (e.g. AC measured by the car's power)."""

    prior: float
    samples: tuple[tuple[float, float], ...] = ()
    """(efficiency, weight in SoC points), oldest first; replaced, never mutated, so the
    summary below can be cached against it (it is asked for at every power report)."""
    rejected: int = 0
    _summary: tuple[object, float, float] | None = field(default=None, init=False, repr=False,
                                                          compare=False)

    def summary(self) -> tuple[float, float]:
        """(efficiency, relative sigma), recomputed only when the samples changed."""
        held = self._summary
        if held is not None and held[0] is self.samples:
            return held[1], held[2]
        total = PRIOR_WEIGHT_PCT
        acc = self.prior * PRIOR_WEIGHT_PCT
        for eff, weight in self.samples:
            total += weight
            acc += eff * weight
        mean = acc / total
        # the spread to expect for the *next* session: the prior's blended with the scatter
        spread = PRIOR_REL_SIGMA**2 * PRIOR_WEIGHT_PCT
        for eff, weight in self.samples:
            spread += ((eff - mean) / mean) ** 2 * weight
        sigma = max(MIN_REL_SIGMA, math.sqrt(spread / total))
        self._summary = (self.samples, mean, sigma)
        return mean, sigma

    def value(self) -> float:
        return self.summary()[0]

    def rel_sigma(self) -> float:
        return self.summary()[1]

    def add(self, efficiency: float, weight_pct: float) -> bool:
        """Take a sample unless it is implausible or an outlier; True if it was taken."""
        low, high = PLAUSIBLE_EFFICIENCY
        if not low <= efficiency <= high or weight_pct <= 0:
            self.rejected += 1
            return False
        if len(self.samples) >= 3:
            current = self.value()
            if abs(efficiency - current) / current > max(OUTLIER_REL, 4 * self.rel_sigma()):
                self.rejected += 1
                return False
        self.samples = (*self.samples, (efficiency, weight_pct))[-MAX_SAMPLES:]
        return True


@dataclass(slots=True)
class TaperStats:
    """The car's own power limit (grid side) at each SoC (2 % bins), from car-limited samples."""

    bins: dict[int, float] = field(default_factory=dict)

    def add(self, soc_pct: float, power_kw: float) -> None:
        if power_kw <= 0 or not 0.0 <= soc_pct <= 100.0:
            return
        key = int(min(soc_pct, 99.999) // TAPER_BIN_PCT)
        held = self.bins.get(key)
        self.bins[key] = power_kw if held is None else held + TAPER_RATE * (power_kw - held)

    def limit_kw(self, soc_pct: float) -> float | None:
        """The learned limit at `soc_pct`, or None where nothing near it was seen."""
        key = int(min(soc_pct, 99.999) // TAPER_BIN_PCT)
        for probe in (key, key - 1, key + 1):
            if probe in self.bins:
                return self.bins[probe]
        return None


@dataclass(slots=True)
class LearnedVehicle:
    """Everything learned about one vehicle; JSON round-trips through `to_json`/`from_json`."""

    efficiency: dict[str, EfficiencyStats] = field(default_factory=dict)
    """Keyed `<kind>:<source>`, e.g. `ac:car` (car's power reports) or `ac:meter`."""
    taper: dict[str, TaperStats] = field(default_factory=dict)
    aux_kw: float = AUX_KW
    """Kept per vehicle so a better value (configured or learned later) has a place."""
    peak_power_kw: float = 0.0
    """The most power the car was seen to take (bounds the band before a charge reports)."""
    implied_power_kw: float | None = None
    """For cars that report no charging power: their average power while charging, learned
    from the SoC gained (grid side at the learned AC efficiency)."""

    def stats(self, kind: str, source: str) -> EfficiencyStats:
        key = f"{kind}:{source}"
        held = self.efficiency.get(key)
        if held is None:
            held = self.efficiency[key] = EfficiencyStats(PRIOR_EFFICIENCY[kind])
        return held

    def efficiency_for(self, kind: str, source: str) -> tuple[float, float]:
        """(efficiency, relative sigma) for a charge; an unseen source borrows the other's."""
        own = self.efficiency.get(f"{kind}:{source}")
        if own is not None and own.samples:
            return own.summary()
        for key, stats in self.efficiency.items():
            if key.startswith(kind + ":") and stats.samples:
                # the same car through another meter: right level, less certain
                value, sigma = stats.summary()
                return value, max(sigma, PRIOR_REL_SIGMA * 0.6)
        return PRIOR_EFFICIENCY[kind], PRIOR_REL_SIGMA

    def taper_for(self, kind: str) -> TaperStats:
        held = self.taper.get(kind)
        if held is None:
            held = self.taper[kind] = TaperStats()
        return held

    def learn_implied_power(self, power_kw: float) -> None:
        if not 0.5 <= power_kw <= 400.0:
            return
        held = self.implied_power_kw
        self.implied_power_kw = power_kw if held is None else held + 0.5 * (power_kw - held)

    def learn_taper(self, kind: str, soc_pct: float, power_kw: float, peak_kw: float) -> None:
        """Keep a power sample as taper if the car, not the charger, limited it."""
        if power_kw >= CAR_LIMITED_SHARE * peak_kw:
            return
        if kind == "ac" and soc_pct < AC_TAPER_FROM_PCT:
            return
        self.taper_for(kind).add(soc_pct, power_kw)

    def _prior_kw(self, kind: str, soc_pct: float, capacity_kwh: float) -> float:
        if kind == "ac":
            return interpolate(PRIOR_AC_SHAPE, soc_pct)  # relative: only ratios are used
        return capacity_kwh * interpolate(PRIOR_DC_C_RATE, soc_pct)

    def power_at(self, kind: str, soc_pct: float, ref_power_kw: float, ref_soc_pct: float,
                 capacity_kwh: float) -> float:
        """Power the car takes at `soc_pct`, given it took `ref_power_kw` at `ref_soc_pct`.

        Never more than the reference (the charger or the car limited it there). A learned
        limit at `soc_pct` caps it (scaled if the car took more than learned at the
        reference); otherwise the prior curve does, scaled the same way.
        """
        taper = self.taper.get(kind)
        if taper is not None and taper.bins:
            here = taper.limit_kw(soc_pct)
            if here is not None:
                there = taper.limit_kw(ref_soc_pct)
                scale = max(1.0, ref_power_kw / there) if there else 1.0
                return min(ref_power_kw, here * scale)
        here = self._prior_kw(kind, soc_pct, capacity_kwh)
        there = self._prior_kw(kind, ref_soc_pct, capacity_kwh)
        if kind == "ac":
            return ref_power_kw * min(1.0, here / there)
        return min(ref_power_kw, here * max(1.0, ref_power_kw / there))

    def power_available_kw(self, kind: str, soc_pct: float, max_power_kw: float,
                           capacity_kwh: float) -> float:
        """For the planner: what a charger of `max_power_kw` can put in at `soc_pct`."""
        taper = self.taper.get(kind)
        learned = taper.limit_kw(soc_pct) if taper is not None else None
        if learned is not None:
            return min(max_power_kw, learned)
        if kind == "ac":
            return max_power_kw * interpolate(PRIOR_AC_SHAPE, soc_pct)
        return min(max_power_kw, self._prior_kw(kind, soc_pct, capacity_kwh))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "implied_power_kw": self.implied_power_kw,
            "aux_kw": self.aux_kw,
            "peak_power_kw": self.peak_power_kw,
            "efficiency": {
                key: {"prior": s.prior, "samples": [list(x) for x in s.samples],
                      "rejected": s.rejected}
                for key, s in sorted(self.efficiency.items())
            },
            "taper": {
                kind: {str(k): round(v, 3) for k, v in sorted(t.bins.items())}
                for kind, t in sorted(self.taper.items())
            },
        }

    @classmethod
    def from_json(cls, data: object) -> LearnedVehicle:
        """Rebuild from `to_json`; anything unreadable starts over from the priors."""
        learned = cls()
        if not isinstance(data, dict) or data.get("version") != 1:
            return learned
        aux = data.get("aux_kw")
        learned.aux_kw = float(aux) if isinstance(aux, int | float) and 0 <= aux < 5 else AUX_KW
        peak = data.get("peak_power_kw")
        learned.peak_power_kw = float(peak) if isinstance(peak, int | float) else 0.0
        implied = data.get("implied_power_kw")
        learned.implied_power_kw = float(implied) if isinstance(implied, int | float) else None
        for key, raw in dict(data.get("efficiency", {})).items():
            kind = str(key).split(":", 1)[0]
            if kind not in PRIOR_EFFICIENCY:
                continue
            stats = EfficiencyStats(float(raw.get("prior", PRIOR_EFFICIENCY[kind])))
            stats.samples = tuple((float(e), float(w)) for e, w in raw.get("samples", []))
            stats.rejected = int(raw.get("rejected", 0))
            learned.efficiency[str(key)] = stats
        for kind, bins in dict(data.get("taper", {})).items():
            if kind in PRIOR_EFFICIENCY:
                learned.taper[kind] = TaperStats({int(k): float(v) for k, v in bins.items()})
        return learned
