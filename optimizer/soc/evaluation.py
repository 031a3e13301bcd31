"""The evaluation harness: estimators against the true SoC of simulated, realistic traces.

Each method sees exactly what the CLI would: the wire messages go through the real CarData
parser, in arrival order, and an estimate at time T uses only what had arrived by T. Errors are
taken every minute while the car is truly charging (`Session.charging_at`), which is where an
estimator earns its keep; the truth never reaches the estimators.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from optimizer.cardata.messages import parse_message
from optimizer.model import VehicleEvent
from optimizer.soc.baseline import LinearBaseline
from optimizer.soc.estimator import EstimatorSettings, SocEstimator
from optimizer.soc.replay import Estimates
from optimizer.soc.traces import DATA_DIR, Trace, build_trace

SAMPLE_S = 60.0
METER_DELAY_S = 5.0
"""A meter reading reaches the service a few seconds after it was taken."""


@dataclass(frozen=True, slots=True)
class Scores:
    n: int
    mae: float
    p95: float
    max_error: float
    coverage: float | None
    """Share of samples with the truth inside the band; None for a method without a band."""

    def as_dict(self) -> dict[str, float | int | None]:
        return {"n": self.n, "mae": round(self.mae, 3), "p95": round(self.p95, 3),
                "max": round(self.max_error, 3),
                "coverage": None if self.coverage is None else round(self.coverage, 4)}


@dataclass(slots=True)
class _Samples:
    errors: list[float]
    inside: list[bool]


def _parsed(trace: Trace) -> dict[str, list[tuple[float, list[VehicleEvent]]]]:
    by_vin: dict[str, list[tuple[float, list[VehicleEvent]]]] = {}
    for arrival, envelope in trace.messages:
        events = parse_message(json.dumps(envelope))
        by_vin.setdefault(envelope["vin"], []).append((arrival, events))
    return by_vin


def _run(trace: Trace, parsed: dict[str, list[tuple[float, list[VehicleEvent]]]],
         factory: Callable[[str], Estimates], use_meter: bool, has_band: bool
         ) -> dict[str, _Samples]:
    """Per session kind, the errors of one method over the whole trace."""
    out: dict[str, _Samples] = {}
    for vin, messages in parsed.items():
        estimator = factory(vin)
        meter = trace.meter.get(vin, []) if use_meter else []
        queries: list[tuple[float, int]] = []
        for index, session in enumerate(trace.sessions):
            if session.vin != vin:
                continue
            t = float(session.truth_t[0]) + SAMPLE_S
            while t < session.truth_t[-1]:
                if session.charging_at(t):
                    queries.append((t, index))
                t += SAMPLE_S
        # one time-ordered walk: messages on arrival, meter readings, then the questions
        timeline: list[tuple[float, int, int]] = []
        timeline += [(a, 0, i) for i, (a, _) in enumerate(messages)]
        timeline += [(t + METER_DELAY_S, 1, i) for i, (t, _) in enumerate(meter)]
        timeline += [(t, 2, i) for i, (t, _) in enumerate(queries)]
        timeline.sort()
        for at, what, i in timeline:
            if what == 0:
                for event in messages[i][1]:
                    estimator.ingest(event)
            elif what == 1:
                estimator.add_meter(datetime.fromtimestamp(meter[i][0], UTC), meter[i][1])
            else:
                session = trace.sessions[queries[i][1]]
                estimate = estimator.estimate(datetime.fromtimestamp(at, UTC))
                truth = session.true_soc(at)
                samples = out.setdefault(session.kind, _Samples([], []))
                if estimate is None:
                    samples.errors.append(abs(truth))  # no answer counts as the worst answer
                    samples.inside.append(False)
                    continue
                samples.errors.append(abs(estimate.soc_pct - truth))
                samples.inside.append(
                    has_band and estimate.soc_low_pct - 1e-9 <= truth <= estimate.soc_high_pct
                    + 1e-9)
    return out


def _scores(groups: list[_Samples], has_band: bool) -> Scores:
    errors = np.array([e for g in groups for e in g.errors])
    inside = [x for g in groups for x in g.inside]
    if errors.size == 0:
        return Scores(0, float("nan"), float("nan"), float("nan"), None)
    return Scores(int(errors.size), float(errors.mean()), float(np.percentile(errors, 95)),
                  float(errors.max()), float(np.mean(inside)) if has_band else None)


METHODS = ("estimator", "estimator+meter", "linear baseline")


def evaluate(trace: Trace, settings: EstimatorSettings | None = None
             ) -> dict[str, dict[str, Scores]]:
    """{method: {scenario: Scores}}; scenarios are `ac11`, `ac22`, `dc`, `metered` (the AC
    sessions a wallbox meter watched) and `all`."""
    parsed = _parsed(trace)
    settings = settings or EstimatorSettings()
    runs = {
        "estimator": _run(trace, parsed, lambda v: SocEstimator(v, None, settings), False, True),
        "estimator+meter": _run(trace, parsed, lambda v: SocEstimator(v, None, settings), True,
                                True),
        "linear baseline": _run(trace, parsed, LinearBaseline, False, False),
    }
    report: dict[str, dict[str, Scores]] = {}
    for method, groups in runs.items():
        band = method != "linear baseline"
        report[method] = {kind: _scores([g], band) for kind, g in sorted(groups.items())}
        report[method]["all"] = _scores(list(groups.values()), band)
        metered = [g for kind, g in groups.items() if kind == "ac11"]
        report[method]["metered"] = _scores(metered, band)
    return report


def run_harness(data_dir: Path = DATA_DIR, sessions_per_car: int = 12, seeds: tuple[int, ...]
                = (1, 2, 3)) -> dict[str, dict[str, Scores]]:
    """Evaluate over several independently simulated fleets (one per seed), pooled."""
    pooled: dict[str, dict[str, list[Scores]]] = {}
    for seed in seeds:
        trace = build_trace(data_dir, sessions_per_car, seed)
        for method, scenarios in evaluate(trace).items():
            for scenario, scores in scenarios.items():
                pooled.setdefault(method, {}).setdefault(scenario, []).append(scores)
    return {m: {s: _pool(v) for s, v in sc.items()} for m, sc in pooled.items()}


def _pool(parts: list[Scores]) -> Scores:
    """Combine per-seed scores: means weighted by n; P95 and max conservatively (worst seed)."""
    n = sum(p.n for p in parts)
    if n == 0:
        return parts[0]
    mae = sum(p.mae * p.n for p in parts) / n
    coverage = None if parts[0].coverage is None else sum(
        (p.coverage or 0.0) * p.n for p in parts) / n
    return Scores(n, mae, max(p.p95 for p in parts), max(p.max_error for p in parts), coverage)
