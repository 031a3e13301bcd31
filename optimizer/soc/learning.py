"""What the estimator learns per vehicle: charging efficiency and the taper (power vs SoC).

Both start from priors and move towards what the car shows, robustly: one implausible pair of
SoC reports (a `maxEnergy` glitch, a SoC sentinel) must not drag a learned efficiency off. The
state is plain data with `to_json`/`from_json`, so the service can keep it in the `Store`.

Efficiency here is the *effective* ratio the estimator needs: SoC gained (as a share of the
reported `maxEnergy`) per kWh delivered, as measured by the energy source the estimator used.
It therefore also absorbs a `maxEnergy` that sits below the true capacity and a car whose
power reports read a little high, which a textbook grid → battery efficiency would not.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

PRIOR_EFFICIENCY: dict[str, float] = {"ac": 0.90, "dc": 0.93}
"""AC onboard chargers lose about 8-12 % (evcc settled on 0.85-0.90, the HA fork on 0.90); DC
skips the onboard charger and loses less (the fork's 0.93)."""

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
TAPER_DECAY = 0.3
"""The taper envelope jumps up to a new maximum at once and decays 30 % of the way towards a
lower observation: a charger-limited session must not erase what the car can take."""

PRIOR_TAPER: dict[str, tuple[tuple[float, float], ...]] = {
    # relative power vs SoC: AC onboard chargers hold their power until close to full; DC
    # charge curves (reference iX1 IONITY sessions, Open EV Data i3/iX3) fall from ~50 %.
    "ac": ((0.0, 1.0), (90.0, 1.0), (100.0, 0.35)),
    "dc": ((0.0, 1.0), (50.0, 1.0), (80.0, 0.55), (100.0, 0.12)),
}


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
    samples: list[tuple[float, float]] = field(default_factory=list)
    """(efficiency, weight in SoC points), oldest first."""
    rejected: int = 0

    def value(self) -> float:
        total = PRIOR_WEIGHT_PCT
        acc = self.prior * PRIOR_WEIGHT_PCT
        for eff, weight in self.samples:
            total += weight
            acc += eff * weight
        return acc / total

    def rel_sigma(self) -> float:
        """The spread to expect for the *next* session, blending the prior's with the scatter."""
        mean = self.value()
        total = PRIOR_WEIGHT_PCT
        acc = PRIOR_REL_SIGMA**2 * PRIOR_WEIGHT_PCT
        for eff, weight in self.samples:
            total += weight
            acc += ((eff - mean) / mean) ** 2 * weight
        return max(MIN_REL_SIGMA, math.sqrt(acc / total))

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
        self.samples.append((efficiency, weight_pct))
        del self.samples[:-MAX_SAMPLES]
        return True


@dataclass(slots=True)
class TaperStats:
    """The most power the car took at each SoC (2 % bins), an envelope over recent charges."""

    bins: dict[int, float] = field(default_factory=dict)

    def add(self, soc_pct: float, power_kw: float) -> None:
        if power_kw <= 0 or not 0.0 <= soc_pct <= 100.0:
            return
        key = int(soc_pct // TAPER_BIN_PCT)
        held = self.bins.get(key)
        if held is None or power_kw >= held:
            self.bins[key] = power_kw
        else:
            self.bins[key] = held + TAPER_DECAY * (power_kw - held)

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
            return own.value(), own.rel_sigma()
        for key, stats in self.efficiency.items():
            if key.startswith(kind + ":") and stats.samples:
                # the same car through another meter: right level, less certain
                return stats.value(), max(stats.rel_sigma(), PRIOR_REL_SIGMA * 0.6)
        return PRIOR_EFFICIENCY[kind], PRIOR_REL_SIGMA

    def taper_for(self, kind: str) -> TaperStats:
        held = self.taper.get(kind)
        if held is None:
            held = self.taper[kind] = TaperStats()
        return held

    def power_at(self, kind: str, soc_pct: float, ref_power_kw: float, ref_soc_pct: float
                 ) -> float:
        """Power the car takes at `soc_pct`, given it took `ref_power_kw` at `ref_soc_pct`.

        Never more than the reference (the charger or the car limited it there). Where the
        envelope was learned at both SoCs it scales it; otherwise the prior shape does.
        """
        taper = self.taper.get(kind)
        if taper is not None:
            here = taper.limit_kw(soc_pct)
            there = taper.limit_kw(ref_soc_pct)
            if here is not None and there is not None and there > 0:
                return min(ref_power_kw, here * max(1.0, ref_power_kw / there))
        shape = PRIOR_TAPER[kind]
        ratio = interpolate(shape, soc_pct) / interpolate(shape, ref_soc_pct)
        return ref_power_kw * min(1.0, ratio)

    def power_available_kw(self, kind: str, soc_pct: float, max_power_kw: float) -> float:
        """For the planner: what a charger of `max_power_kw` can put in at `soc_pct`.

        A learned bin below the car's learned peak is the car's own taper and limits any
        charger; at the peak the charger was the limit, so only the prior shape applies.
        """
        taper = self.taper.get(kind)
        if taper is not None and taper.bins:
            learned = taper.limit_kw(soc_pct)
            if learned is not None and learned < 0.98 * max(taper.bins.values()):
                return min(max_power_kw, learned)
        return max_power_kw * interpolate(PRIOR_TAPER[kind], soc_pct)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
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
        for key, raw in dict(data.get("efficiency", {})).items():
            kind = str(key).split(":", 1)[0]
            if kind not in PRIOR_EFFICIENCY:
                continue
            stats = EfficiencyStats(float(raw.get("prior", PRIOR_EFFICIENCY[kind])))
            stats.samples = [(float(e), float(w)) for e, w in raw.get("samples", [])]
            stats.rejected = int(raw.get("rejected", 0))
            learned.efficiency[str(key)] = stats
        for kind, bins in dict(data.get("taper", {})).items():
            if kind in PRIOR_TAPER:
                learned.taper[kind] = TaperStats({int(k): float(v) for k, v in bins.items()})
        return learned
