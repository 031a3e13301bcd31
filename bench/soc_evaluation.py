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

from bench.soc_traces import DATA_DIR, Trace, build_trace
from optimizer.cardata.messages import parse_message
from optimizer.events import VehicleEvent
from optimizer.soc.baseline import LinearBaseline
from optimizer.soc.estimator import EstimatorSettings, SocEstimator
from optimizer.soc.replay import Estimates

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
    width: float | None = None
    """Mean band width (high - low) in SoC points: a wide band covers easily, this keeps it
    honest."""

    def as_dict(self) -> dict[str, float | int | None]:
        return {"n": self.n, "mae": round(self.mae, 3), "p95": round(self.p95, 3),
                "max": round(self.max_error, 3),
                "coverage": None if self.coverage is None else round(self.coverage, 4),
                "width": None if self.width is None else round(self.width, 3)}


@dataclass(slots=True)
class _Samples:
    errors: list[float]
    inside: list[bool]
    widths: list[float]


def _parsed(trace: Trace) -> dict[str, list[tuple[float, list[VehicleEvent]]]]:
    by_vin: dict[str, list[tuple[float, list[VehicleEvent]]]] = {}
    for arrival, envelope in trace.messages:
        events = parse_message(json.dumps(envelope))
        by_vin.setdefault(envelope["vin"], []).append((arrival, events))
    return by_vin


def _run(trace: Trace, parsed: dict[str, list[tuple[float, list[VehicleEvent]]]],
         factory: Callable[[str], Estimates], use_meter: bool, has_band: bool
         ) -> dict[tuple[str, bool, bool], _Samples]:
    """Per (session kind, first charge of that kind for the car, car streams no power), the
    errors of one method."""
    out: dict[tuple[str, bool, bool], _Samples] = {}
    first_of: dict[tuple[str, str], int] = {}
    for index, session in enumerate(trace.sessions):
        first_of.setdefault((session.vin, session.kind), index)
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
                first = first_of[(vin, session.kind)] == queries[i][1]
                key = (session.kind, first, session.no_power)
                samples = out.setdefault(key, _Samples([], [], []))
                if estimate is None:
                    samples.errors.append(abs(truth))  # no answer counts as the worst answer
                    samples.inside.append(False)
                    samples.widths.append(0.0)
                    continue
                samples.errors.append(abs(estimate.soc_pct - truth))
                samples.widths.append(estimate.soc_high_pct - estimate.soc_low_pct)
                samples.inside.append(
                    has_band and estimate.soc_low_pct - 1e-9 <= truth <= estimate.soc_high_pct
                    + 1e-9)
    return out


def _scores(groups: list[_Samples], has_band: bool) -> Scores:
    errors = np.array([e for g in groups for e in g.errors])
    inside = [x for g in groups for x in g.inside]
    if errors.size == 0:
        return Scores(0, float("nan"), float("nan"), float("nan"), None)
    widths = [w for g in groups for w in g.widths]
    return Scores(int(errors.size), float(errors.mean()), float(np.percentile(errors, 95)),
                  float(errors.max()), float(np.mean(inside)) if has_band else None,
                  float(np.mean(widths)) if has_band else None)


METHODS = ("estimator", "estimator+meter", "linear baseline")
SCENARIOS: dict[str, Callable[[str, bool, bool], bool]] = {
    "ac11": lambda kind, first, no_power: kind == "ac11" and not no_power,
    "ac22": lambda kind, first, no_power: kind == "ac22",
    "dc": lambda kind, first, no_power: kind == "dc" and not no_power,
    "first charge": lambda kind, first, no_power: first and not no_power,
    "later": lambda kind, first, no_power: not first and not no_power,
    "all": lambda kind, first, no_power: not no_power,
    "no power": lambda kind, first, no_power: no_power,
}
"""`ac11` charges are at home, where the wallbox meter watches them; `first charge` is each
car's first charge of its kind (AC 11, AC 22, DC), which runs on the priors. `all` is every
charge of the cars that stream power, the traces the issue asks for; `no power` is the car
that streams none, reported apart."""


def evaluate_samples(trace: Trace, settings: EstimatorSettings | None = None
                     ) -> dict[str, dict[tuple[str, bool, bool], _Samples]]:
    parsed = _parsed(trace)
    settings = settings or EstimatorSettings()
    return {
        "estimator": _run(trace, parsed, lambda v: SocEstimator(v, None, settings), False, True),
        "estimator+meter": _run(trace, parsed, lambda v: SocEstimator(v, None, settings), True,
                                True),
        "linear baseline": _run(trace, parsed, LinearBaseline, False, False),
    }


def run_harness(data_dir: Path = DATA_DIR, sessions_per_car: int = 12, seeds: tuple[int, ...]
                = (1, 2, 3), settings: EstimatorSettings | None = None
                ) -> dict[str, dict[str, Scores]]:
    """{method: {scenario: Scores}} over several independently simulated fleets (one per
    seed: different cars, sessions and quirks), all samples pooled."""
    pooled: dict[str, dict[tuple[str, bool, bool], list[_Samples]]] = {}
    for seed in seeds:
        trace = build_trace(data_dir, sessions_per_car, seed)
        for method, runs in evaluate_samples(trace, settings).items():
            for key, samples in runs.items():
                pooled.setdefault(method, {}).setdefault(key, []).append(samples)
    report: dict[str, dict[str, Scores]] = {}
    for method, groups in pooled.items():
        band = method != "linear baseline"
        report[method] = {
            name: _scores([s for key, parts in groups.items() if select(*key) for s in parts],
                          band)
            for name, select in SCENARIOS.items()
        }
    return report
