"""The linear baseline behaves like the community helper it stands for (cardata.md §4.1)."""

from __future__ import annotations

import pytest

from optimizer.events import ChargingStatus
from optimizer.soc.baseline import LinearBaseline
from tests.soc.conftest import VIN, at, charge_start, event


def test_power_over_max_energy_without_losses() -> None:
    base = LinearBaseline(VIN)
    for e in charge_start(soc=50, capacity=76, target=100, power_kw=11):
        base.ingest(e)
    got = base.estimate(at(61))
    assert got is not None
    assert got.soc_pct == pytest.approx(50 + 11 / 76 * 100)  # from the first power report on


def test_re_anchors_on_a_stale_resend_and_stops_on_a_stop_status() -> None:
    base = LinearBaseline(VIN)
    for e in charge_start(soc=50, capacity=76, target=100, power_kw=11):
        base.ingest(e)
    before = base.estimate(at(60))
    base.ingest(event("soc_pct", 42, -30, arrived=60))  # an older SoC, re-sent by BMW
    got = base.estimate(at(60))
    # it takes the old value as the anchor and integrates at the current rate since then
    assert got is not None and got.soc_pct == pytest.approx(42 + 11 / 76 * 100 * 1.5)
    assert before is not None and got.soc_pct < before.soc_pct  # the backwards jump
    base.ingest(event("charging_status", ChargingStatus.FINISHED, 90))
    held = base.estimate(at(90))
    later = base.estimate(at(200))
    assert held is not None and later is not None and later.soc_pct == held.soc_pct
