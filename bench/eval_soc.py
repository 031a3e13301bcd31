"""Evaluation harness for the SoC estimator (issue 4): error against the simulated true SoC.

    .venv/bin/python bench/eval_soc.py [--seeds 1 2 3] [--sessions 12]

Prints MAE, P95, max error and band coverage while charging, per scenario (AC 11 kW, AC 22 kW,
DC, metered AC, all) for the estimator, the estimator with a wallbox meter, and the linear
baseline (power / maxEnergy, no losses).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.soc_evaluation import run_harness


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--sessions", type=int, default=12)
    args = parser.parse_args()
    report = run_harness(sessions_per_car=args.sessions, seeds=tuple(args.seeds))
    print(f"{'method':18s} {'scenario':13s} {'n':>6s} {'MAE':>6s} {'P95':>6s} {'max':>7s} "
          f"{'in band':>8s} {'width':>6s}")
    for method, scenarios in report.items():
        for scenario, s in scenarios.items():
            band = "-" if s.coverage is None else f"{s.coverage:.1%}"
            width = "-" if s.width is None else f"{s.width:.2f}"
            print(f"{method:18s} {scenario:13s} {s.n:6d} {s.mae:6.2f} {s.p95:6.2f} "
                  f"{s.max_error:7.2f} {band:>8s} {width:>6s}")
    ratio = report["linear baseline"]["all"].mae / report["estimator"]["all"].mae
    print(f"baseline MAE / estimator MAE: {ratio:.1f}x")


if __name__ == "__main__":
    main()
